//! Formatting of figures for people: durations, byte counts, thousands separators, tensor
//! dimensions. Used by the command line, the report and error messages alike.

/// Seconds with a unit that keeps 3 or 4 significant digits: `812 ns`, `3.92 µs`, `1.33 ms`.
pub fn format_seconds(s: f64) -> String {
    let (value, unit) = match s {
        s if s < 1e-6 => (s * 1e9, "ns"),
        s if s < 1e-3 => (s * 1e6, "µs"),
        s if s < 1.0 => (s * 1e3, "ms"),
        s => (s, "s"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// `n` with a comma every three digits: `60,965,224`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units with three significant digits: `812 B`, `23.1 GiB`, `3.55 PiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ if value >= 100.0 => format!("{value:.0} {}", UNITS[unit]),
        _ if value >= 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.2} {}", UNITS[unit]),
    }
}

/// Dimensions joined by `×`: `1×1000×6×6`.
pub fn dims(d: &[usize]) -> String {
    d.iter().map(usize::to_string).collect::<Vec<_>>().join("×")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(60_965_224), "60,965,224");
    }

    #[test]
    fn bytes_print_in_binary_units_with_three_digits() {
        assert_eq!(format_bytes(812), "812 B");
        assert_eq!(format_bytes(1536), "1.50 KiB");
        assert_eq!(format_bytes(23_100_000_000), "21.5 GiB");
        assert_eq!(format_bytes(4_000_000_000_000_000), "3.55 PiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn seconds_keep_three_or_four_significant_digits() {
        assert_eq!(format_seconds(812e-9), "812 ns");
        assert_eq!(format_seconds(3.92e-6), "3.92 µs");
        assert_eq!(format_seconds(1.333e-3), "1.33 ms");
        assert_eq!(format_seconds(42.0), "42.0 s");
        assert_eq!(dims(&[1, 1000, 6, 6]), "1×1000×6×6");
    }
}
