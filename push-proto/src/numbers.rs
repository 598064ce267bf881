//! Number matching: the host picks the number it shows at login and, when the phone offers a
//! choice, the three numbers the phone shows. The service never chooses either, so it cannot
//! make two logins show the same number.

use crate::limits::NUMBER_RANGE;

/// How the user enters the number shown at login on the phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The user types the two digits (a blind approval wins 1 time in 90).
    Type,
    /// The user taps one of three numbers (a blind approval wins 1 time in 3).
    Choose,
}

/// A uniformly random integer in `0..n` (`0 < n <= 256`), by rejection sampling of kernel
/// random bytes (no modulo bias).
fn below(n: u16) -> Result<u8, getrandom::Error> {
    let n = n.clamp(1, 256);
    // The largest multiple of n that fits in 0..=255's 256 values.
    let zone = 256 - (256 % n);
    loop {
        let mut b = [0u8; 1];
        getrandom::getrandom(&mut b)?;
        if u16::from(b[0]) < zone {
            return Ok(u8::try_from(u16::from(b[0]) % n).unwrap_or(0));
        }
    }
}

/// A random two-digit number.
fn number() -> Result<u8, getrandom::Error> {
    let span = u16::from(NUMBER_RANGE.end() - NUMBER_RANGE.start()) + 1;
    Ok(NUMBER_RANGE.start() + below(span)?)
}

/// The number to show at login and what the phone offers: with [`Entry::Choose`] the number
/// and two other distinct random numbers, shuffled; with [`Entry::Type`] nothing.
pub fn login_numbers(entry: Entry) -> Result<(u8, Vec<u8>), getrandom::Error> {
    let n = number()?;
    if entry == Entry::Type {
        return Ok((n, Vec::new()));
    }
    let mut choices = vec![n];
    while choices.len() < 3 {
        let c = number()?;
        if !choices.contains(&c) {
            choices.push(c);
        }
    }
    // Fisher-Yates.
    for i in (1..choices.len()).rev() {
        let j = usize::from(below(u16::try_from(i + 1).unwrap_or(1))?);
        choices.swap(i, j);
    }
    Ok((n, choices))
}

/// Whether `choices` is what a challenge may carry: none (the user types the number), or
/// three distinct two-digit numbers.
pub fn valid_choices(choices: &[u8]) -> bool {
    match choices {
        [] => true,
        [a, b, c] => {
            [a, b, c].iter().all(|n| NUMBER_RANGE.contains(n)) && a != b && b != c && a != c
        }
        _ => false,
    }
}

/// Whether `number` may answer a challenge offering `choices`: one of them, or any two-digit
/// number when the user types it.
pub fn acceptable(choices: &[u8], number: u8) -> bool {
    if choices.is_empty() { NUMBER_RANGE.contains(&number) } else { choices.contains(&number) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_hold_the_number_and_are_distinct() {
        let mut position = [0usize; 3];
        for _ in 0..3000 {
            let (n, c) = login_numbers(Entry::Choose).unwrap();
            assert!(valid_choices(&c) && c.len() == 3, "{c:?}");
            let at = c.iter().position(|x| *x == n).unwrap();
            position[at] += 1;
        }
        // The number lands in each slot about a third of the time.
        assert!(position.iter().all(|p| (800..1200).contains(p)), "{position:?}");
        let (n, c) = login_numbers(Entry::Type).unwrap();
        assert!(NUMBER_RANGE.contains(&n) && c.is_empty());
    }

    #[test]
    fn below_covers_its_range() {
        let mut seen = [false; 90];
        for _ in 0..5000 {
            seen[usize::from(below(90).unwrap())] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn validity() {
        assert!(valid_choices(&[]) && valid_choices(&[10, 55, 99]));
        for bad in [&[10, 10, 11][..], &[10, 11], &[9, 10, 11], &[10, 11, 100], &[1, 2, 3, 4]] {
            assert!(!valid_choices(bad), "{bad:?}");
        }
        assert!(acceptable(&[], 42) && !acceptable(&[], 9) && !acceptable(&[], 100));
        assert!(acceptable(&[10, 42, 99], 42) && !acceptable(&[10, 42, 99], 43));
    }
}
