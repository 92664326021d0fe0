//! A policy's answer, and how several answers combine.

use super::Operation;
use crate::error::ApiError;

/// What the policies said: allowed or not, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// The `allow` rule (true when the policy does not define it).
    pub allow: bool,
    /// The `deny` set: reasons, each enough to refuse.
    pub reasons: Vec<String>,
}

impl Decision {
    /// The decision when no policy is loaded.
    pub fn allowed() -> Self {
        Decision {
            allow: true,
            reasons: Vec::new(),
        }
    }

    /// Both decisions must allow; their reasons add up.
    pub fn and(mut self, other: Decision) -> Decision {
        self.allow &= other.allow;
        self.reasons.extend(other.reasons);
        self
    }

    /// Allowed only when `allow` holds and no `deny` reason was given.
    pub fn into_result(self, operation: Operation) -> Result<(), ApiError> {
        if self.allow && self.reasons.is_empty() {
            return Ok(());
        }
        let reasons = if self.reasons.is_empty() {
            vec!["the policy's `allow` rule is false".to_owned()]
        } else {
            self.reasons
        };
        Err(ApiError::PolicyDenied { operation, reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_reason_refuses_even_when_allow_holds() {
        let d = Decision {
            allow: true,
            reasons: vec!["no".into()],
        };
        assert!(d.into_result(Operation::Deploy).is_err());
        assert!(Decision::allowed().into_result(Operation::Deploy).is_ok());
    }

    #[test]
    fn combining_keeps_every_reason_and_needs_both_allows() {
        let a = Decision {
            allow: true,
            reasons: vec!["a".into()],
        };
        let b = Decision {
            allow: false,
            reasons: vec!["b".into()],
        };
        let both = a.and(b);
        assert!(!both.allow);
        assert_eq!(both.reasons, ["a", "b"]);
        match both.into_result(Operation::Execute) {
            Err(ApiError::PolicyDenied { reasons, .. }) => assert_eq!(reasons, ["a", "b"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn allow_false_without_reasons_says_so() {
        let d = Decision {
            allow: false,
            reasons: vec![],
        };
        match d.into_result(Operation::Deploy) {
            Err(ApiError::PolicyDenied { reasons, .. }) => assert!(reasons[0].contains("allow")),
            other => panic!("{other:?}"),
        }
    }
}
