//! Request bodies read the way the OpenAPI document describes them (issue 15): every body is a
//! JSON object (serde alone would also read an array into a struct, field by field), and a
//! number with a zero fraction is an integer, as JSON Schema's `integer` says (`5.0` is 5).
//! Errors are 400 `invalid_json`; size and content type stay `web::Json`'s (413, 415).

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use super::ApiError;

/// A JSON object body deserialised into `T` (in place of `web::Json<T>`).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            Ok(JsonBody(from_value(value)?))
        })
    }
}

/// Parses `bytes` as a JSON object into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    from_value(value)
}

/// A parsed body that must be an object, into `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(integral(value))
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// Numbers with a zero fraction become integers, at any depth, where that is exact: within
/// ±2^53 (a float beyond that may stand for several integers, so it stays a float and an
/// integer field refuses it; every integer the API takes is far smaller).
fn integral(value: Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                // Whole and within ±2^53: the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                Value::Number(Number::from(f as i64))
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        n: u32,
        s: Option<String>,
    }

    #[test]
    fn objects_only_and_whole_floats_are_integers() {
        let body: Body = from_slice(br#"{"n": 77216.0}"#).unwrap();
        assert_eq!(body, Body { n: 77216, s: None });
        for junk in [
            &b"[5, null]"[..],
            b"null",
            b"5",
            br#"{"n": 1.5}"#,
            br#"{"n": 1, "x": 2}"#,
            br#"{"n": 1e300}"#,
        ] {
            assert!(
                from_slice::<Body>(junk).is_err(),
                "{}",
                String::from_utf8_lossy(junk)
            );
        }
    }
}
