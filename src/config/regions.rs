//! The AWS regions keyward accepts by name.
//!
//! The AWS SDK for Rust knows every region (its endpoint resolver carries the partitions
//! file), but it keeps that list private, so the names are kept here, by partition, as the
//! SDK's partitions file (aws-sdk-kms 1.129) lists them, without its `*-global` pseudo-regions.
//! When AWS opens a region, add it here; until then a config naming it is refused with this
//! list's neighbours, which is the point: a typo such as `eu-west-9` fails at start, not on the
//! first call.

/// Every region name, grouped by partition.
pub const KNOWN_REGIONS: &[&str] = &[
    // aws: the commercial regions.
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-cn: China.
    "cn-north-1",
    "cn-northwest-1",
    // aws-us-gov: GovCloud (US).
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-eusc: the European Sovereign Cloud.
    "eusc-de-east-1",
    // aws-iso, aws-iso-b, aws-iso-e, aws-iso-f: the isolated regions.
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
];

/// True when `name` is a region AWS has.
pub fn is_known(name: &str) -> bool {
    KNOWN_REGIONS.contains(&name)
}

/// True when `name` is written like a region (`us-east-1`, `us-gov-west-1`) even if AWS has
/// none of that name, so the error can say "unknown" rather than "invalid".
pub fn looks_like_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let letters = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words[0].len() == 2
        && words.iter().all(letters)
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The known regions an operator most likely meant by `name`: those sharing everything but
/// its number (`eu-west-9`: the `eu-west` ones), else those of its area (`eu-`), else all.
pub fn suggestions(name: &str) -> Vec<&'static str> {
    let stem = name.rsplit_once('-').map_or(name, |(stem, _)| stem);
    let area = name.split('-').next().unwrap_or(name);
    let like = |prefix: &str| -> Vec<&'static str> {
        KNOWN_REGIONS
            .iter()
            .copied()
            .filter(|r| r.starts_with(prefix))
            .collect()
    };
    let same_stem = like(&format!("{stem}-"));
    if !same_stem.is_empty() {
        return same_stem;
    }
    let same_area = like(&format!("{area}-"));
    if !same_area.is_empty() {
        return same_area;
    }
    KNOWN_REGIONS.to_vec()
}
