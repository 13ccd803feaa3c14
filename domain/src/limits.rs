//! Named upper bounds for everything the domain stores.
//!
//! Every collection an aggregate holds is bounded here, so memory per actor
//! and the size of every row, event and HTTP body are bounded too.

/// Lines per cart: a real basket is far smaller, and the bound keeps a cart's
/// state, its events and the checkout's reservation fan-out small.
pub const CART_LINES_MAX: usize = 50;

/// Units of one SKU per cart line: larger quantities are wholesale orders,
/// which go through another channel, and the bound stops one cart from
/// draining a hot SKU by accident or abuse.
pub const CART_LINE_QUANTITY_MAX: u32 = 1_000;

/// Lines per order: an order is placed from exactly one cart, so it can never
/// have more lines than a cart can hold.
pub const ORDER_LINES_MAX: usize = CART_LINES_MAX;

/// Characters in a product name: enough for any real title, small enough to
/// keep catalog rows and listing pages bounded.
pub const PRODUCT_NAME_CHARS_MAX: usize = 200;

/// Characters per shipping-address field: carriers accept far less, so
/// anything longer is garbage or an attack on our storage.
pub const ADDRESS_FIELD_CHARS_MAX: usize = 200;

/// Units one SKU may ever have had restocked (on hand plus sold): stock
/// counts are sent to clients as JSON numbers, which JavaScript reads as
/// doubles, exact only up to 2^53 - 1.
pub const INVENTORY_UNITS_MAX: u64 = (1 << 53) - 1;

/// Bytes in an email address: RFC 5321's limit on a forward path.
pub const EMAIL_BYTES_MAX: usize = 254;

/// Characters in a password, at least: length is what makes a password hard to guess (NIST SP
/// 800-63B asks for at least 8).
pub const PASSWORD_CHARS_MIN: usize = 8;

/// Characters in a password, at most: long passphrases are welcome, but the bound keeps request
/// bodies and hashing input bounded.
pub const PASSWORD_CHARS_MAX: usize = 128;

// Checkout turns every cart line into an order line, so an order must be
// able to hold a full cart.
const _: () = assert!(ORDER_LINES_MAX >= CART_LINES_MAX);

// A full cart line must be a valid `Quantity`.
const _: () = assert!(CART_LINE_QUANTITY_MAX <= crate::ids::Quantity::MAX);

// The largest cart must fit in inventory arithmetic without overflow.
const _: () =
    assert!((CART_LINES_MAX as u64) * (CART_LINE_QUANTITY_MAX as u64) <= INVENTORY_UNITS_MAX);
