//! The `convert` step: field types (string, number, integer, boolean, date with formats
//! and time zones). Missing and `null` fields are left alone; a value that cannot be
//! converted fails the item, naming the field.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone,
};
use serde_json::{Number, Value};
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{ConvertTo, FieldConversion};
use switchyard_crds::zone::{Zone, ZoneError};

use super::{Transform, TransformError, paths};

pub struct Conversion {
    pub path: FieldPath,
    pub to: ConvertTo,
    pub input_format: Option<String>,
    pub timezone: Zone,
    pub format: Option<String>,
    pub output_timezone: Zone,
}

pub struct Convert {
    pub fields: Vec<Conversion>,
}

/// Why a `convert` step cannot be built, or a value not converted (the text names the
/// value and why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// `inputFormat` or `format` is not a strftime format.
    #[error("`{0}` is not a valid strftime format")]
    Format(String),
    /// `timezone` or `outputTimezone` is not a zone.
    #[error(transparent)]
    Zone(#[from] ZoneError),
    /// The value cannot be converted to the type asked for.
    #[error("{0}")]
    Value(String),
}

/// A value that cannot be converted, and why.
fn invalid(reason: String) -> ConvertError {
    ConvertError::Value(reason)
}

/// Checks a strftime format (or `unix`/`unixMillis`).
pub fn check_format(text: &str) -> Result<(), ConvertError> {
    if matches!(text, "unix" | "unixMillis") {
        return Ok(());
    }
    if StrftimeItems::new(text).any(|item| matches!(item, Item::Error)) {
        return Err(ConvertError::Format(text.to_owned()));
    }
    Ok(())
}

impl Conversion {
    pub fn build(field: &FieldConversion, path: FieldPath) -> Result<Self, ConvertError> {
        for format in [&field.input_format, &field.format].into_iter().flatten() {
            check_format(format)?;
        }
        Ok(Self {
            path,
            to: field.to,
            input_format: field.input_format.clone(),
            timezone: Zone::parse(field.timezone.as_deref())?,
            format: field.format.clone(),
            output_timezone: Zone::parse(field.output_timezone.as_deref())?,
        })
    }

    fn convert(&self, value: &Value) -> Result<Value, ConvertError> {
        match self.to {
            ConvertTo::String => Ok(Value::String(super::key_text(value))),
            ConvertTo::Number => number(value).map(Value::Number),
            ConvertTo::Integer => {
                let n = number(value)?;
                let whole = n
                    .as_i64()
                    .or_else(|| n.as_f64().map(|f| f.round() as i64))
                    .ok_or_else(|| invalid(format!("{n} is not a whole number")))?;
                Ok(Value::from(whole))
            }
            ConvertTo::Boolean => boolean(value).map(Value::Bool),
            ConvertTo::Date => self.date(value),
        }
    }

    fn date(&self, value: &Value) -> Result<Value, ConvertError> {
        let parsed = parse_date(value, self.input_format.as_deref(), self.timezone)?;
        let format = self.format.as_deref();
        match self.output_timezone {
            Zone::Fixed(offset) => write_date(&parsed.with_timezone(&offset), format),
            // In the zone itself (not its offset at that instant), so `%Z` writes `CEST`.
            Zone::Named(tz) => write_date(&parsed.with_timezone(&tz), format),
        }
    }
}

/// A date-time as `format` says (default RFC 3339), in its own zone.
fn write_date<Tz: TimeZone>(
    date: &DateTime<Tz>,
    format: Option<&str>,
) -> Result<Value, ConvertError>
where
    Tz::Offset: std::fmt::Display,
{
    Ok(match format {
        None => Value::String(date.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Some("unix") => Value::from(date.timestamp()),
        Some("unixMillis") => Value::from(date.timestamp_millis()),
        Some(format) => {
            let mut text = String::new();
            write!(text, "{}", date.format(format))
                .map_err(|_| invalid(format!("cannot format the date with `{format}`")))?;
            Value::String(text)
        }
    })
}

/// A wall-clock time in `zone`. A time that occurs twice (clocks going back) is the
/// first of the two, as most schedulers read it; one that never occurs (clocks going
/// forward) is an error rather than a guess.
fn in_zone(naive: NaiveDateTime, zone: Zone) -> Result<DateTime<FixedOffset>, ConvertError> {
    fn pick<Tz: TimeZone>(
        result: LocalResult<DateTime<Tz>>,
        naive: NaiveDateTime,
        zone: &dyn std::fmt::Display,
    ) -> Result<DateTime<FixedOffset>, ConvertError> {
        match result {
            LocalResult::Single(date) | LocalResult::Ambiguous(date, _) => Ok(date.fixed_offset()),
            LocalResult::None => Err(invalid(format!(
                "{naive} does not exist in {zone} (the clocks skip it for daylight saving time)"
            ))),
        }
    }
    match zone {
        Zone::Fixed(offset) => pick(offset.from_local_datetime(&naive), naive, &offset),
        Zone::Named(tz) => pick(tz.from_local_datetime(&naive), naive, &tz),
    }
}

fn number(value: &Value) -> Result<Number, ConvertError> {
    match value {
        Value::Number(n) => Ok(n.clone()),
        Value::Bool(b) => Ok(Number::from(u8::from(*b))),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(whole) = text.parse::<i64>() {
                return Ok(Number::from(whole));
            }
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or_else(|| invalid(format!("`{text}` is not a number")))
        }
        other => Err(invalid(format!("cannot convert {other} to a number"))),
    }
}

fn boolean(value: &Value) -> Result<bool, ConvertError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(true),
            "false" | "no" | "n" | "0" | "off" | "" => Ok(false),
            _ => Err(invalid(format!("`{text}` is not a boolean"))),
        },
        other => Err(invalid(format!("cannot convert {other} to a boolean"))),
    }
}

fn parse_date(
    value: &Value,
    format: Option<&str>,
    zone: Zone,
) -> Result<DateTime<FixedOffset>, ConvertError> {
    let from_unix = |seconds: f64| {
        DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
            .map(|d| d.fixed_offset())
            .ok_or_else(|| invalid(format!("{seconds} is out of range for a date")))
    };
    let local = |naive: NaiveDateTime| in_zone(naive, zone);
    match (value, format) {
        (Value::Number(n), None | Some("unix")) => from_unix(n.as_f64().unwrap_or_default()),
        (Value::Number(n), Some("unixMillis")) => {
            from_unix(n.as_f64().unwrap_or_default() / 1000.0)
        }
        (Value::String(text), Some("unix")) => from_unix(
            text.trim()
                .parse()
                .map_err(|_| invalid(format!("`{text}` is not a number of seconds")))?,
        ),
        (Value::String(text), Some("unixMillis")) => from_unix(
            text.trim()
                .parse::<f64>()
                .map_err(|_| invalid(format!("`{text}` is not a number of milliseconds")))?
                / 1000.0,
        ),
        (Value::String(text), Some(format)) => {
            if let Ok(date) = DateTime::parse_from_str(text, format) {
                return Ok(date);
            }
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                return local(naive);
            }
            NaiveDate::parse_from_str(text, format)
                .map_err(|e| invalid(format!("`{text}` does not match `{format}`: {e}")))
                .and_then(|d| local(d.and_time(chrono::NaiveTime::MIN)))
        }
        (Value::String(text), None) => {
            if let Ok(date) = DateTime::parse_from_rfc3339(text) {
                return Ok(date);
            }
            for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                    return local(naive);
                }
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| {
                    invalid(format!(
                        "`{text}` is not an RFC 3339 date; set `inputFormat`"
                    ))
                })
                .and_then(|d| local(d.and_time(chrono::NaiveTime::MIN)))
        }
        (other, _) => Err(invalid(format!("cannot read {other} as a date"))),
    }
}

impl Transform for Convert {
    fn kind(&self) -> &'static str {
        "convert"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        for field in &self.fields {
            let Some(value) = paths::get(&item, &field.path) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let converted = field
                .convert(value)
                .map_err(|reason| TransformError::Path {
                    path: field.path.to_string(),
                    reason: reason.to_string(),
                })?;
            paths::set(&mut item, &field.path, converted)?;
        }
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conversion(
        to: ConvertTo,
        input: Option<&str>,
        tz: Option<&str>,
        format: Option<&str>,
        out_tz: Option<&str>,
    ) -> Conversion {
        Conversion::build(
            &FieldConversion {
                path: "v".into(),
                to,
                input_format: input.map(Into::into),
                timezone: tz.map(Into::into),
                format: format.map(Into::into),
                output_timezone: out_tz.map(Into::into),
            },
            FieldPath::parse("v").unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn converts_dates_between_formats_and_zones() {
        let c = conversion(
            ConvertTo::Date,
            Some("%d-%m-%Y %H:%M"),
            Some("+02:00"),
            None,
            None,
        );
        assert_eq!(
            c.convert(&json!("31-12-2024 23:30")),
            Ok(json!("2024-12-31T21:30:00Z"))
        );
        let c = conversion(
            ConvertTo::Date,
            None,
            None,
            Some("%Y-%m-%d %H:%M"),
            Some("-05:00"),
        );
        assert_eq!(
            c.convert(&json!("2024-01-01T03:00:00Z")),
            Ok(json!("2023-12-31 22:00"))
        );
        let c = conversion(ConvertTo::Date, None, None, Some("unix"), None);
        assert_eq!(c.convert(&json!("1970-01-02")), Ok(json!(86400)));
        assert!(c.convert(&json!("yesterday")).is_err());
        assert!(
            Conversion::build(
                &FieldConversion {
                    path: "v".into(),
                    to: ConvertTo::Date,
                    input_format: None,
                    timezone: Some("Mars/Base".into()),
                    format: None,
                    output_timezone: None
                },
                FieldPath::parse("v").unwrap_or_else(|e| panic!("{e}")),
            )
            .is_err()
        );
    }

    #[test]
    fn reads_and_writes_iana_zones_across_daylight_saving_time() {
        let amsterdam = Some("Europe/Amsterdam");
        let read = conversion(
            ConvertTo::Date,
            Some("%Y-%m-%d %H:%M"),
            amsterdam,
            None,
            None,
        );
        // Summer time (+02:00), winter time (+01:00).
        assert_eq!(
            read.convert(&json!("2024-07-01 12:00")),
            Ok(json!("2024-07-01T10:00:00Z"))
        );
        assert_eq!(
            read.convert(&json!("2024-01-15 12:00")),
            Ok(json!("2024-01-15T11:00:00Z"))
        );
        // 02:30 on the last Sunday of March does not exist: the clocks jump 02:00 → 03:00.
        let gap = read.convert(&json!("2024-03-31 02:30"));
        assert!(
            gap.as_ref()
                .is_err_and(|e| e.to_string().contains("does not exist in Europe/Amsterdam")),
            "{gap:?}"
        );
        // 02:30 on the last Sunday of October happens twice: the first (still +02:00).
        assert_eq!(
            read.convert(&json!("2024-10-27 02:30")),
            Ok(json!("2024-10-27T00:30:00Z"))
        );
        // A date without a time is midnight in the zone.
        let day = conversion(ConvertTo::Date, Some("%Y-%m-%d"), amsterdam, None, None);
        assert_eq!(
            day.convert(&json!("2024-07-01")),
            Ok(json!("2024-06-30T22:00:00Z"))
        );

        let write = conversion(ConvertTo::Date, None, None, None, amsterdam);
        assert_eq!(
            write.convert(&json!("2024-03-31T00:30:00Z")),
            Ok(json!("2024-03-31T01:30:00+01:00"))
        );
        assert_eq!(
            write.convert(&json!("2024-03-31T01:30:00Z")),
            Ok(json!("2024-03-31T03:30:00+02:00"))
        );
        let named = conversion(
            ConvertTo::Date,
            None,
            None,
            Some("%d-%m-%Y %H:%M %Z"),
            amsterdam,
        );
        assert_eq!(
            named.convert(&json!("2024-07-01T10:00:00Z")),
            Ok(json!("01-07-2024 12:00 CEST"))
        );
        // Between two named zones: New York local time to Amsterdam local time.
        let between = conversion(
            ConvertTo::Date,
            Some("%Y-%m-%d %H:%M"),
            Some("America/New_York"),
            Some("%Y-%m-%d %H:%M"),
            amsterdam,
        );
        assert_eq!(
            between.convert(&json!("2024-03-20 09:00")),
            Ok(json!("2024-03-20 14:00"))
        );
    }

    #[test]
    fn converts_scalars() {
        let n = conversion(ConvertTo::Number, None, None, None, None);
        assert_eq!(n.convert(&json!("12.50")), Ok(json!(12.5)));
        assert_eq!(n.convert(&json!("7")), Ok(json!(7)));
        assert!(n.convert(&json!("x")).is_err());
        let i = conversion(ConvertTo::Integer, None, None, None, None);
        assert_eq!(i.convert(&json!("2.5")), Ok(json!(3)));
        let b = conversion(ConvertTo::Boolean, None, None, None, None);
        assert_eq!(b.convert(&json!("Yes")), Ok(json!(true)));
        let s = conversion(ConvertTo::String, None, None, None, None);
        assert_eq!(s.convert(&json!(4.25)), Ok(json!("4.25")));
    }
}
