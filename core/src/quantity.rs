//! Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1.5Gi`, `1e3`) as exact integers.
//!
//! CPU is kept in millicores and memory/storage in bytes, so sums and comparisons are exact
//! and the sizing tables never drift from what the API server would compute.

use std::fmt;

/// CPU in millicores (`1` core = `1000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MilliCpu(pub u64);

/// Memory or storage in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Bytes(pub u64);

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not of the form `<number><suffix>`.
    #[error("`{0}` is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)")]
    Syntax(String),
    /// Parsed but negative, fractional below the unit, or too large.
    #[error("`{0}` is out of range")]
    Range(String),
}

fn split_number(s: &str) -> Option<(&str, &str)> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '+'))
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    Some((num, suffix))
}

/// Parses `num` × 10^`exp10` × `mult`, rounding up to an integer.
fn scaled(num: &str, mult: u128, exp10: i32, orig: &str) -> Result<u64, QuantityError> {
    let num = num.trim_start_matches('+');
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    // The digits of both parts as one integer: ASCII digits only, no sign between them.
    let mantissa = if int.is_empty() && frac.is_empty() {
        None
    } else {
        int.bytes().chain(frac.bytes()).try_fold(0u128, |v, b| {
            let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
            v.checked_mul(10)?.checked_add(u128::from(d))
        })
    }
    .ok_or_else(|| QuantityError::Syntax(orig.into()))?;
    let exp = exp10 - i32::try_from(frac.len()).map_err(|_| QuantityError::Range(orig.into()))?;
    let mut value = mantissa
        .checked_mul(mult)
        .ok_or_else(|| QuantityError::Range(orig.into()))?;
    if exp >= 0 {
        for _ in 0..exp {
            value = value
                .checked_mul(10)
                .ok_or_else(|| QuantityError::Range(orig.into()))?;
        }
    } else {
        let div = 10u128
            .checked_pow(exp.unsigned_abs())
            .ok_or_else(|| QuantityError::Range(orig.into()))?;
        value = value.div_ceil(div);
    }
    u64::try_from(value).map_err(|_| QuantityError::Range(orig.into()))
}

fn parse_with(s: &str, base_exp: i32) -> Result<u64, QuantityError> {
    let t = s.trim();
    let (num, suffix) = split_number(t).ok_or_else(|| QuantityError::Syntax(s.into()))?;
    let (mult, exp): (u128, i32) = match suffix {
        "" => (1, 0),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        e if e.starts_with(['e', 'E']) => {
            let n: i32 = e[1..]
                .parse()
                .map_err(|_| QuantityError::Syntax(s.into()))?;
            (1, n)
        }
        _ => return Err(QuantityError::Syntax(s.into())),
    };
    scaled(num, mult, exp + base_exp, s)
}

impl MilliCpu {
    /// Parses a CPU quantity (`250m`, `0.5`, `2`).
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        parse_with(s, 3).map(MilliCpu)
    }
    /// Whole cores as a float, for display.
    pub fn cores(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl Bytes {
    /// Parses a memory or storage quantity (`512Mi`, `2Gi`, `1G`).
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        parse_with(s, 0).map(Bytes)
    }
    /// `n` gibibytes.
    pub const fn gi(n: u64) -> Self {
        Bytes(n << 30)
    }
    /// `n` mebibytes.
    pub const fn mi(n: u64) -> Self {
        Bytes(n << 20)
    }
}

impl fmt::Display for MilliCpu {
    /// Canonical Kubernetes form: whole cores without suffix, else millicores.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

impl fmt::Display for Bytes {
    /// Canonical binary-suffix form (`512Mi`, `2Gi`) when exact, else plain bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u32); 5] =
            [("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
        if self.0 == 0 {
            return write!(f, "0");
        }
        for (suffix, shift) in UNITS {
            if self.0.is_multiple_of(1u64 << shift) {
                return write!(f, "{}{suffix}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl std::ops::Add for MilliCpu {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        MilliCpu(self.0 + o.0)
    }
}
impl std::ops::Add for Bytes {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Bytes(self.0 + o.0)
    }
}
impl std::ops::Mul<u64> for MilliCpu {
    type Output = Self;
    fn mul(self, n: u64) -> Self {
        MilliCpu(self.0 * n)
    }
}
impl std::ops::Mul<u64> for Bytes {
    type Output = Self;
    fn mul(self, n: u64) -> Self {
        Bytes(self.0 * n)
    }
}
impl std::iter::Sum for MilliCpu {
    fn sum<I: Iterator<Item = Self>>(it: I) -> Self {
        it.fold(MilliCpu(0), |a, b| a + b)
    }
}
impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Self>>(it: I) -> Self {
        it.fold(Bytes(0), |a, b| a + b)
    }
}

/// Whether two quantity strings are the same amount (`1Gi` and `1024Mi`, `500m` and `0.5`):
/// the API server stores a quantity in its canonical form, not as written. `false` when
/// either is not a quantity.
pub fn same_amount(a: &str, b: &str) -> bool {
    // Milli-units hold both CPU (`250m`) and byte counts exactly within u64 up to 16 Pi.
    matches!((parse_with(a, 3), parse_with(b, 3)), (Ok(x), Ok(y)) if x == y)
}

/// Human figure for tables: `3.5` cores.
pub fn cores_str(c: MilliCpu) -> String {
    let s = format!("{:.2}", c.cores());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Human figure for tables: `12.5Gi`.
pub fn gib_str(b: Bytes) -> String {
    let g = b.0 as f64 / f64::from(1u32 << 30);
    let s = format!("{g:.2}");
    format!("{}Gi", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu() {
        assert_eq!(MilliCpu::parse("500m"), Ok(MilliCpu(500)));
        assert_eq!(MilliCpu::parse("2"), Ok(MilliCpu(2000)));
        assert_eq!(MilliCpu::parse("0.25"), Ok(MilliCpu(250)));
        assert_eq!(MilliCpu::parse("1.5"), Ok(MilliCpu(1500)));
        assert_eq!(MilliCpu::parse("1e3"), Ok(MilliCpu(1_000_000)));
        assert!(MilliCpu::parse("two").is_err());
        assert!(MilliCpu::parse("-1").is_err());
        assert!(MilliCpu::parse("5x").is_err());
        assert!(MilliCpu::parse("").is_err());
        // A sign is read before the digits only, and a mantissa past u128 is no quantity.
        assert_eq!(MilliCpu::parse("+1.5"), Ok(MilliCpu(1500)));
        for bad in ["1+2", ".+5", "1.+5", "+", "+.", &"9".repeat(40)] {
            assert_eq!(
                MilliCpu::parse(bad),
                Err(QuantityError::Syntax(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn memory() {
        assert_eq!(Bytes::parse("512Mi"), Ok(Bytes::mi(512)));
        assert_eq!(Bytes::parse("2Gi"), Ok(Bytes::gi(2)));
        assert_eq!(Bytes::parse("1.5Gi"), Ok(Bytes::mi(1536)));
        assert_eq!(Bytes::parse("1G"), Ok(Bytes(1_000_000_000)));
        assert_eq!(Bytes::parse("128974848"), Ok(Bytes(128_974_848)));
        assert!(Bytes::parse("2GB").is_err());
    }

    #[test]
    fn amounts_compare_by_value_not_by_spelling() {
        assert!(same_amount("1Gi", "1024Mi"));
        assert!(same_amount("500m", "0.5"));
        assert!(same_amount("2", "2000m"));
        assert!(same_amount("1k", "1000"));
        assert!(!same_amount("1Gi", "1G"));
        assert!(!same_amount("restricted", "restricted"));
        assert!(!same_amount("2", "3"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["500m", "2", "250m"] {
            assert_eq!(MilliCpu::parse(s).unwrap().to_string(), s);
        }
        for s in ["512Mi", "2Gi", "20Gi", "64Mi"] {
            assert_eq!(Bytes::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(cores_str(MilliCpu(3500)), "3.5");
        assert_eq!(gib_str(Bytes::mi(5 * 1024 + 512)), "5.5Gi");
    }
}
