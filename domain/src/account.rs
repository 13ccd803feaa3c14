//! A shopper's account credentials, parsed at the edge.
//!
//! Accounts hold no business state beyond who owns which cart and order, so there is no account
//! aggregate: an account is an email, a password hash (computed by an adapter, since hashing is
//! deliberately slow and needs randomness) and the `CustomerId` that carts and orders carry.
//! What lives here are the rules for what an email and a password may be.

use std::fmt;

use crate::limits::{EMAIL_BYTES_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN};

/// An email address, trimmed and lowercased, so `Ann@Example.com ` and `ann@example.com` are one
/// account. Only the shape is checked (one `@`, a local part, a dotted domain, no spaces or
/// control characters); whether the mailbox exists is not this crate's business.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an email address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong { max: usize },
    Malformed,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Empty => f.write_str("email is empty"),
            EmailError::TooLong { max } => write!(f, "email is longer than {max} bytes"),
            EmailError::Malformed => f.write_str("email must look like name@example.com"),
        }
    }
}

impl std::error::Error for EmailError {}

impl Email {
    pub fn parse(s: &str) -> Result<Email, EmailError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        // The bound applies to the stored form, which is measured after lowercasing because
        // lowercasing can grow a string: `İ` (2 bytes) becomes `i` and a combining dot (3 bytes).
        let lowered = trimmed.to_lowercase();
        if lowered.len() > EMAIL_BYTES_MAX {
            return Err(EmailError::TooLong {
                max: EMAIL_BYTES_MAX,
            });
        }
        if !well_formed(&lowered) {
            return Err(EmailError::Malformed);
        }
        Ok(Email(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn well_formed(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '@';
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    !local.is_empty()
        && !local.chars().any(bad_char)
        && !domain.chars().any(bad_char)
        && domain.contains('.')
        && labels_ok
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// A password as the shopper typed it, checked against the policy: at least
/// `PASSWORD_CHARS_MIN` characters (length is what makes a password strong) and at most
/// `PASSWORD_CHARS_MAX` (so hashing cost and request size stay bounded). It is never trimmed or
/// normalised, and Debug and Display print a placeholder so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordError {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// Control characters cannot be typed reliably on every device, so a password holding one
    /// is a client bug rather than a choice.
    ControlCharacter,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort { min } => {
                write!(f, "password must have at least {min} characters")
            }
            PasswordError::TooLong { max } => {
                write!(f, "password must have at most {max} characters")
            }
            PasswordError::ControlCharacter => f.write_str("password holds a control character"),
        }
    }
}

impl std::error::Error for PasswordError {}

impl Password {
    pub fn parse(s: &str) -> Result<Password, PasswordError> {
        let chars = s.chars().count();
        if chars < PASSWORD_CHARS_MIN {
            return Err(PasswordError::TooShort {
                min: PASSWORD_CHARS_MIN,
            });
        }
        if chars > PASSWORD_CHARS_MAX {
            return Err(PasswordError::TooLong {
                max: PASSWORD_CHARS_MAX,
            });
        }
        if s.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        Ok(Password(s.to_owned()))
    }

    /// The characters, for the hashing adapter only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ann.Lee@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ann.lee@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "ann@@example.com",
            "a nn@example.com",
            "ann@exa mple.com",
            "ann@.com",
            "ann@example..com",
            "ann@-example.com",
            "ann\u{0}@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn overlong_emails_are_refused() {
        let long = format!("{}@example.com", "a".repeat(EMAIL_BYTES_MAX));
        assert_eq!(
            Email::parse(&long),
            Err(EmailError::TooLong {
                max: EMAIL_BYTES_MAX
            })
        );
    }

    /// The `request_decoding` fuzz target's limit check fails on this input before the fix: 253
    /// bytes that lowercase to 377.
    #[test]
    fn the_length_bound_holds_for_the_lowercased_form() {
        let growing = format!("a@{}.de", "\u{130}".repeat(124));
        assert!(growing.len() <= EMAIL_BYTES_MAX);
        assert_eq!(
            Email::parse(&growing),
            Err(EmailError::TooLong {
                max: EMAIL_BYTES_MAX
            })
        );
        let fits = format!("a@{}.de", "\u{130}".repeat(80));
        let email = Email::parse(&fits).expect("valid");
        assert!(email.as_str().len() <= EMAIL_BYTES_MAX);
    }

    #[test]
    fn passwords_follow_the_length_policy_in_characters() {
        let short = "é".repeat(PASSWORD_CHARS_MIN - 1);
        assert_eq!(
            Password::parse(&short),
            Err(PasswordError::TooShort {
                min: PASSWORD_CHARS_MIN
            })
        );
        // Multi-byte characters count once each: the policy is about what the shopper types.
        assert!(Password::parse(&"é".repeat(PASSWORD_CHARS_MIN)).is_ok());
        assert!(Password::parse(&"x".repeat(PASSWORD_CHARS_MAX)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(PASSWORD_CHARS_MAX + 1)),
            Err(PasswordError::TooLong {
                max: PASSWORD_CHARS_MAX
            })
        );
        assert_eq!(
            Password::parse("correct horse\nbattery"),
            Err(PasswordError::ControlCharacter)
        );
    }

    #[test]
    fn passwords_are_kept_verbatim_and_never_printed() {
        let password = Password::parse("  spaces count  ").expect("valid");
        assert_eq!(password.expose(), "  spaces count  ");
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        assert_eq!(password.to_string(), "<redacted>");
    }
}
