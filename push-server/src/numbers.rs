//! Number matching: the number shown at login and the three choices a device shows.

use push_proto::limits::NUMBER_RANGE;

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

/// The number to show at login and the shuffled choices: the number and two other distinct
/// random numbers.
pub fn challenge_numbers() -> Result<(u8, Vec<u8>), getrandom::Error> {
    let n = number()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_hold_the_number_and_are_distinct() {
        let mut position = [0usize; 3];
        for _ in 0..3000 {
            let (n, c) = challenge_numbers().unwrap();
            assert_eq!(c.len(), 3);
            assert!(c.iter().all(|x| NUMBER_RANGE.contains(x)));
            assert!(c[0] != c[1] && c[1] != c[2] && c[0] != c[2]);
            let at = c.iter().position(|x| *x == n).unwrap();
            position[at] += 1;
        }
        // The number lands in each slot about a third of the time.
        assert!(position.iter().all(|p| (800..1200).contains(p)), "{position:?}");
    }

    #[test]
    fn below_covers_its_range() {
        let mut seen = [false; 90];
        for _ in 0..5000 {
            seen[usize::from(below(90).unwrap())] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
