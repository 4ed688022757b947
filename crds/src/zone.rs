//! Time zones as steps write them: `UTC`, a fixed offset (`+01:00`) or an IANA name
//! (`Europe/Amsterdam`, daylight saving time included). Parsed here so validation and the
//! runner accept exactly the same names.

use chrono::FixedOffset;

pub use chrono_tz::Tz;

/// A parsed time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The same offset all year.
    Fixed(FixedOffset),
    /// A region's rules from the tz database: the offset depends on the date.
    Named(Tz),
}

/// A time zone that is not `UTC`, an offset or an IANA name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("time zone `{0}` is not a valid offset such as `+01:00`")]
    Offset(String),
    #[error(
        "time zone `{0}` is not `UTC`, an offset such as `+01:00` or an IANA name such as `Europe/Amsterdam`"
    )]
    Name(String),
}

impl ZoneError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Offset(_) => "zone_offset",
            Self::Name(_) => "zone_name",
        }
    }
}

impl Zone {
    pub const UTC: Zone = Zone::Named(Tz::UTC);

    /// `None` is UTC.
    pub fn parse(text: Option<&str>) -> Result<Self, ZoneError> {
        let Some(text) = text else {
            return Ok(Self::UTC);
        };
        match text {
            "UTC" | "Z" | "utc" => Ok(Self::UTC),
            _ if text.starts_with(['+', '-']) => text
                .parse::<FixedOffset>()
                .map(Self::Fixed)
                .map_err(|_| ZoneError::Offset(text.to_owned())),
            _ => text
                .parse::<Tz>()
                .map(Self::Named)
                .map_err(|_| ZoneError::Name(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utc_offsets_and_iana_names() {
        assert_eq!(Zone::parse(None), Ok(Zone::UTC));
        assert_eq!(Zone::parse(Some("Z")), Ok(Zone::UTC));
        assert_eq!(
            Zone::parse(Some("+02:00")),
            Ok(Zone::Fixed(
                FixedOffset::east_opt(7_200).unwrap_or_else(|| unreachable!())
            ))
        );
        assert_eq!(
            Zone::parse(Some("Europe/Amsterdam")),
            Ok(Zone::Named(Tz::Europe__Amsterdam))
        );
        for bad in ["Mars/Base", "+25:00", "europe/amsterdam", ""] {
            assert!(Zone::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_zone_has_a_static_category() {
        let category = |text| Zone::parse(Some(text)).err().map(|e| e.category());
        assert_eq!(category("+25:00"), Some("zone_offset"));
        assert_eq!(category("Mars/Base"), Some("zone_name"));
    }
}
