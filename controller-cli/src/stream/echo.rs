//! The input object a result line repeats, kept as written.
//!
//! A job's keys other than hs's are passed through, and a result line must give them back as
//! they came: read into `serde_json::Value`, `1.5e-300` would come back `1.4999999999999998e-300`,
//! a 30-digit integer as a float and `"\u00e9"` as `"é"`. So the object is held as its members'
//! raw text (names decoded, values untouched) and only the members hs reads are decoded.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON object's members in input order, each value exactly as written. A name given twice
/// keeps its first place and its last value, as `serde_json::Map` does.
#[derive(Debug, Default)]
pub struct Echo {
    members: Vec<(String, Box<str>)>,
}

impl Echo {
    /// `{"input": <value>}`: the echo of a line that is not a job object (`value` is that line's
    /// JSON, or the line itself as a string when it is not JSON).
    pub fn input(value: Box<RawValue>) -> Echo {
        Echo {
            members: vec![("input".into(), value.into())],
        }
    }

    /// The echo of a line that is not JSON: the line as a JSON string.
    pub fn input_text(line: &str) -> Echo {
        Echo {
            members: vec![("input".into(), json_text(&Value::String(line.into())))],
        }
    }

    /// The member `key`, decoded.
    pub fn decoded(&self, key: &str) -> Result<Option<Value>, serde_json::Error> {
        match self.members.iter().find(|(k, _)| k == key) {
            Some((_, v)) => serde_json::from_str(v).map(Some),
            None => Ok(None),
        }
    }

    /// The members named in `keys` that are present, decoded.
    pub fn decode(&self, keys: &[&str]) -> Result<Map<String, Value>, serde_json::Error> {
        let mut map = Map::new();
        for key in keys {
            if let Some(v) = self.decoded(key)? {
                map.insert((*key).to_string(), v);
            }
        }
        Ok(map)
    }

    /// The result line: this object, its values as written, with `"result"` set to `result`
    /// (in the place of an input `result`, else last).
    pub fn answer(mut self, result: &Value) -> String {
        let result = json_text(result);
        match self.members.iter_mut().find(|(k, _)| k == "result") {
            Some((_, v)) => *v = result,
            None => self.members.push(("result".into(), result)),
        }
        let mut line = String::from("{");
        for (i, (key, value)) in self.members.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&Value::String(key.clone()).to_string());
            line.push(':');
            line.push_str(value);
        }
        line.push('}');
        line
    }
}

fn json_text(value: &Value) -> Box<str> {
    value.to_string().into_boxed_str()
}

impl<'de> Deserialize<'de> for Echo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> Visitor<'de> for Members {
            type Value = Echo;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Echo, A::Error> {
                let mut members: Vec<(String, Box<str>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    let value = Box::<str>::from(value);
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => *v = value,
                        None => members.push((key, value)),
                    }
                }
                Ok(Echo { members })
            }
        }

        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn echo(line: &str) -> Echo {
        serde_json::from_str(line).expect("an object")
    }

    #[test]
    fn values_come_back_byte_for_byte() {
        let line = r#"{"cmd":"true","x":1.5e-300,"big":123456789012345678901234567890,"e":1e19,"s":"caf\u00e9","a":[1.0, 2]}"#;
        let answered = echo(line).answer(&json!({"status": "ok"}));
        assert_eq!(
            answered,
            r#"{"cmd":"true","x":1.5e-300,"big":123456789012345678901234567890,"e":1e19,"s":"caf\u00e9","a":[1.0, 2],"result":{"status":"ok"}}"#
        );
    }

    #[test]
    fn a_repeated_name_keeps_its_first_place_and_last_value_and_result_is_replaced() {
        let answered = echo(r#"{"a":1,"result":"mine","b":2,"a":3}"#).answer(&json!(7));
        assert_eq!(answered, r#"{"a":3,"result":7,"b":2}"#);
        assert_eq!(Echo::default().answer(&json!(null)), r#"{"result":null}"#);
    }

    #[test]
    fn named_members_are_decoded_and_names_are_escaped_on_the_way_out() {
        let e = echo(r#"{"cmd":"echo \"hi\"","n\"k":1}"#);
        assert_eq!(e.decoded("cmd").ok().flatten(), Some(json!("echo \"hi\"")));
        assert_eq!(e.decoded("cd").ok().flatten(), None);
        assert_eq!(e.decode(&["cmd", "cd"]).ok().map(|m| m.len()), Some(1));
        assert_eq!(
            e.answer(&json!(0)),
            r#"{"cmd":"echo \"hi\"","n\"k":1,"result":0}"#
        );
        assert_eq!(
            Echo::input_text("not \"json\"").answer(&json!(0)),
            r#"{"input":"not \"json\"","result":0}"#
        );
    }
}
