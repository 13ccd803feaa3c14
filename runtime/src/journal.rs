//! The supervision journal: a bounded ring of the most recent failures, restarts and quarantines
//! of one entity kind, with the error text and the wall-clock time, for operators.
//!
//! It is written on the failure paths only (never per command), so a `std::sync::Mutex` is
//! cheap enough: it is held for one `VecDeque` push, never across an await, and a burst of
//! failures contends only with itself.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How many entries one kind's journal keeps; older ones are dropped first.
pub const JOURNAL_ENTRIES_MAX: usize = 256;

/// Longest error text kept per entry, in bytes; a panic message can be arbitrarily long.
pub const JOURNAL_DETAIL_BYTES_MAX: usize = 512;

/// What happened to an actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisionEvent {
    /// `decide` panicked; the state is discarded and reloaded.
    Panicked,
    /// A batch failed to commit (conflict, store down); the state is reloaded.
    CommitFailed,
    /// Loading the state at activation failed; the actor stopped.
    ActivationFailed,
    /// The state was reloaded from the store after a failure or on request.
    Restarted,
    /// Reloading failed.
    ReloadFailed,
    /// Too many restarts in the window: the actor stopped and its id is quarantined.
    Quarantined,
}

impl SupervisionEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            SupervisionEvent::Panicked => "panicked",
            SupervisionEvent::CommitFailed => "commit_failed",
            SupervisionEvent::ActivationFailed => "activation_failed",
            SupervisionEvent::Restarted => "restarted",
            SupervisionEvent::ReloadFailed => "reload_failed",
            SupervisionEvent::Quarantined => "quarantined",
        }
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub kind: &'static str,
    pub id: String,
    pub event: SupervisionEvent,
    /// The error text, cut at `JOURNAL_DETAIL_BYTES_MAX`; empty for a plain restart.
    pub detail: String,
}

/// The ring of one kind.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Mutex<VecDeque<JournalEntry>>,
}

impl Journal {
    pub(crate) fn record(
        &self,
        kind: &'static str,
        id: &dyn std::fmt::Display,
        event: SupervisionEvent,
        detail: &str,
    ) {
        let entry = JournalEntry {
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            kind,
            id: id.to_string(),
            event,
            detail: truncate(detail, JOURNAL_DETAIL_BYTES_MAX).to_owned(),
        };
        // A poisoned lock only means a panic while pushing; the ring is still a valid ring.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == JOURNAL_ENTRIES_MAX {
            entries.pop_front();
        }
        entries.push_back(entry);
        debug_assert!(entries.len() <= JOURNAL_ENTRIES_MAX);
    }

    /// The newest `n` entries, newest first.
    pub fn recent(&self, n: usize) -> Vec<JournalEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().rev().take(n).cloned().collect()
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_entries() {
        let journal = Journal::default();
        for i in 0..JOURNAL_ENTRIES_MAX + 10 {
            journal.record("sku", &i, SupervisionEvent::Restarted, "");
        }
        let recent = journal.recent(usize::MAX);
        assert_eq!(recent.len(), JOURNAL_ENTRIES_MAX);
        assert_eq!(recent[0].id, (JOURNAL_ENTRIES_MAX + 9).to_string());
        assert_eq!(recent.last().map(|e| e.id.as_str()), Some("10"));
    }

    #[test]
    fn cuts_long_details_on_a_character_boundary() {
        let journal = Journal::default();
        let long = "é".repeat(JOURNAL_DETAIL_BYTES_MAX);
        journal.record("sku", &"a", SupervisionEvent::Panicked, &long);
        let detail = &journal.recent(1)[0].detail;
        assert!(detail.len() <= JOURNAL_DETAIL_BYTES_MAX);
        assert!(detail.chars().all(|c| c == 'é'));
    }
}
