//! Counting by user and by name without allocating per event.
//!
//! Reports tally millions of events into a few hundred keys. Keys are looked
//! up by borrowed text and copied only the first time they are seen, so the
//! cost per event is a hash lookup, and memory grows with distinct keys
//! only.

use kernel::UserId;
use std::collections::HashMap;

/// A value per user, keyed by user id and the email the event recorded (an
/// email can change under one id; each pair is its own row).
#[derive(Debug)]
pub(crate) struct ByUser<T> {
    users: HashMap<Option<UserId>, Emails<T>>,
}

/// The emails seen with one user id, each with its value.
type Emails<T> = Vec<(Option<Box<str>>, T)>;

impl<T> Default for ByUser<T> {
    fn default() -> Self {
        ByUser {
            users: HashMap::new(),
        }
    }
}

impl<T: Default> ByUser<T> {
    /// The value of `(user, email)`, created on first sight.
    pub fn entry(&mut self, user: Option<UserId>, email: Option<&str>) -> &mut T {
        // Most users have one email: a short list beats a second map.
        let emails = self.users.entry(user).or_default();
        let index = match emails.iter().position(|(e, _)| e.as_deref() == email) {
            Some(index) => index,
            None => {
                emails.push((email.map(Box::from), T::default()));
                emails.len() - 1
            }
        };
        &mut emails[index].1
    }

    /// Every `(user, email, value)`, in no particular order.
    pub fn into_rows(self) -> impl Iterator<Item = (Option<UserId>, Option<String>, T)> {
        self.users.into_iter().flat_map(|(user, emails)| {
            emails
                .into_iter()
                .map(move |(email, value)| (user, email.map(String::from), value))
        })
    }
}

/// A count per optional name (a tool, a reason).
#[derive(Debug, Default)]
pub(crate) struct ByName {
    named: HashMap<Box<str>, u64>,
    unnamed: u64,
}

impl ByName {
    /// Counts one occurrence of `name`.
    pub fn add(&mut self, name: Option<&str>) {
        self.add_n(name, 1);
    }

    /// Counts `n` occurrences of `name`.
    pub fn add_n(&mut self, name: Option<&str>, n: u64) {
        match name {
            None => self.unnamed += n,
            Some(name) => match self.named.get_mut(name) {
                Some(count) => *count += n,
                None => {
                    self.named.insert(Box::from(name), n);
                }
            },
        }
    }

    /// Every `(name, count)` with a count, in no particular order.
    pub fn into_rows(self) -> impl Iterator<Item = (Option<String>, u64)> {
        let unnamed = (self.unnamed > 0).then_some((None, self.unnamed));
        self.named
            .into_iter()
            .map(|(name, count)| (Some(String::from(name)), count))
            .chain(unnamed)
    }
}

/// Sorts rows by count, largest first, then by key ascending, so equal
/// counts come out in the same order every time.
pub(crate) fn rank<K: Ord, R>(rows: &mut [R], count: impl Fn(&R) -> u64, key: impl Fn(&R) -> K) {
    rows.sort_unstable_by(|a, b| count(b).cmp(&count(a)).then_with(|| key(a).cmp(&key(b))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn users_are_counted_per_id_and_email() {
        let a = Some(UserId::from_uuid(Uuid::from_u128(1)));
        let mut tally = ByUser::<u64>::default();
        *tally.entry(a, Some("a@x")) += 1;
        *tally.entry(a, Some("a@x")) += 1;
        *tally.entry(a, Some("new@x")) += 1;
        *tally.entry(None, None) += 1;
        let mut rows: Vec<_> = tally.into_rows().collect();
        rows.sort();
        assert_eq!(
            rows,
            vec![
                (None, None, 1),
                (a, Some("a@x".into()), 2),
                (a, Some("new@x".into()), 1)
            ]
        );
    }

    #[test]
    fn names_and_their_absence_are_counted() {
        let mut tally = ByName::default();
        for name in [Some("x"), None, Some("x"), Some("y")] {
            tally.add(name);
        }
        let mut rows: Vec<_> = tally.into_rows().collect();
        rank(&mut rows, |r| r.1, |r| r.0.clone());
        assert_eq!(
            rows,
            vec![(Some("x".into()), 2), (None, 1), (Some("y".into()), 1)]
        );
    }
}
