//! Counted nouns in what operators read, so that one of anything is never "1 days".

use std::fmt::Display;

/// `n` and the noun, singular when `n` is one (or minus one): `count(1, "key", "keys")` is
/// "1 key", `count(0, "key", "keys")` is "0 keys".
pub fn count<N>(n: N, one: &str, many: &str) -> String
where
    N: Display + Copy + TryInto<i64>,
{
    let singular = n.try_into().is_ok_and(|n: i64| n.abs() == 1);
    format!("{n} {}", if singular { one } else { many })
}

/// "1 day", "2 days".
pub fn days<N>(n: N) -> String
where
    N: Display + Copy + TryInto<i64>,
{
    count(n, "day", "days")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(days(1), "1 day");
        assert_eq!(days(-1_i64), "-1 day");
        assert_eq!(days(0), "0 days");
        assert_eq!(days(2_u32), "2 days");
        assert_eq!(count(1_usize, "entry", "entries"), "1 entry");
        assert_eq!(count(12_usize, "entry", "entries"), "12 entries");
    }
}
