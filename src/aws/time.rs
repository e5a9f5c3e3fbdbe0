//! Conversion of the SDK's timestamps into chrono's.

use chrono::{DateTime, Utc};

/// An SDK timestamp as a chrono UTC time; `None` only for times chrono cannot represent.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
