//! The boolean switches admin requests take in their query string (`?purge=true`).

use crate::error::ApiError;

/// Reads the switches named in `known` from `query`, in that order: `name`, `name=true` or
/// `name=1` turn one on, `name=false` or `name=0` leave it off. Any other parameter or value is
/// refused naming it, so a misspelt `?prge=true` is not silently ignored.
pub fn switches<const N: usize>(
    query: Option<&str>,
    known: [&str; N],
) -> Result<[bool; N], ApiError> {
    let mut on = [false; N];
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let Some(index) = known.iter().position(|k| *k == name) else {
            return Err(ApiError::BadRequest {
                reason: format!(
                    "unknown query parameter {:?}: this endpoint takes {}",
                    wasmgate_config::shown(&name),
                    known.join(", ")
                ),
            });
        };
        on[index] = match value.as_ref() {
            "" | "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(ApiError::BadRequest {
                    reason: format!(
                        "query parameter {name}={:?} is not a switch: write {name}=true or {name}=false",
                        wasmgate_config::shown(other)
                    ),
                });
            }
        };
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_read_true_false_and_bare_names_and_refuse_the_rest() {
        assert_eq!(switches(None, ["purge"]).unwrap(), [false]);
        assert_eq!(switches(Some("purge=true"), ["purge"]).unwrap(), [true]);
        assert_eq!(switches(Some("purge"), ["purge"]).unwrap(), [true]);
        assert_eq!(switches(Some("purge=0"), ["purge"]).unwrap(), [false]);
        assert!(switches(Some("prge=true"), ["purge"]).is_err());
        assert!(switches(Some("purge=yes"), ["purge"]).is_err());
    }
}
