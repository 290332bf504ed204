//! Hooks for the fuzz targets in `fuzz/`; not part of the API. They name the parsers that read
//! outside input, so the fuzz crate can reach them without this crate's modules being public.

pub use crate::config::fuzzing as config;
pub use crate::config::key::KEYS as CONFIG_KEYS;
pub use crate::config::{Config, Context, Level};
pub use crate::directives::split as split_directives;
pub use crate::from_json::load as load_from_json;
pub use crate::input::Submitter;
pub use crate::query::{
    parse_bytes, parse_change, parse_legacy_change, parse_tag, parse_tag_filter, parse_where,
};
pub use crate::stream::echo::Echo;
pub use crate::stream::job::{Entry, Job, read_line as read_job_line};
