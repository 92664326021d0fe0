//! Who may replace a function: the issuer that owns its name, and never with an older build.
//!
//! Pure decisions over what the registry holds; the deploy pipeline reads the owner and the
//! deployed version under the catalog's change lock, so two deploys cannot both pass.

use crate::error::ApiError;
use std::collections::BTreeMap;
use wasmgate_config::NamePattern;

/// The operator's `[admission.issuer_names]`: for each issuer listed, the names it may sign.
#[derive(Debug, Clone, Default)]
pub struct IssuerNames(BTreeMap<String, Vec<NamePattern>>);

impl IssuerNames {
    /// The lists as configured, by issuer public key text.
    pub fn new(names: BTreeMap<String, Vec<NamePattern>>) -> Self {
        IssuerNames(names)
    }

    /// Refuses `name` when `issuer` has a list and no entry of it matches.
    pub fn check(&self, name: &str, issuer: &str) -> Result<(), ApiError> {
        match self.0.get(issuer) {
            Some(patterns) if !patterns.iter().any(|p| p.matches(name)) => {
                Err(ApiError::NameNotAllowed {
                    name: name.to_owned(),
                    issuer: issuer.to_owned(),
                    patterns: patterns.iter().map(ToString::to_string).collect(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Refuses a deploy of `name` by `issuer` when another issuer owns the name. A name without an
/// owner goes to the first issuer that deploys it.
pub fn check_owner(name: &str, issuer: &str, owner: Option<&str>) -> Result<(), ApiError> {
    match owner {
        Some(owner) if owner != issuer => Err(ApiError::NameOwned {
            name: name.to_owned(),
            owner: owner.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a component signed before the deployed version (`iat` older), unless the admin asked
/// for the downgrade explicitly. The same signature deployed again is not a downgrade.
pub fn check_downgrade(iat: u64, deployed_iat: Option<u64>, allow: bool) -> Result<(), ApiError> {
    match deployed_iat {
        Some(deployed_iat) if iat < deployed_iat && !allow => {
            Err(ApiError::Downgrade { iat, deployed_iat })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(issuer: &str, patterns: &[&str]) -> IssuerNames {
        let patterns = patterns
            .iter()
            .map(|p| NamePattern::try_from((*p).to_owned()).unwrap())
            .collect();
        IssuerNames::new(BTreeMap::from([(issuer.to_owned(), patterns)]))
    }

    fn code(result: Result<(), ApiError>) -> &'static str {
        match result {
            Ok(()) => "ok",
            Err(e) => e.classify().1,
        }
    }

    #[test]
    fn an_issuer_with_a_list_signs_only_its_names_and_others_sign_any() {
        let team_a = names("A", &["team-a-*", "billing"]);
        assert_eq!(code(team_a.check("team-a-cart", "A")), "ok");
        assert_eq!(code(team_a.check("billing", "A")), "ok");
        assert_eq!(code(team_a.check("team-b-cart", "A")), "name_not_allowed");
        assert_eq!(code(team_a.check("team-b-cart", "B")), "ok");
    }

    #[test]
    fn only_the_owner_replaces_a_name_and_an_unowned_name_is_free() {
        assert_eq!(code(check_owner("billing", "A", Some("A"))), "ok");
        assert_eq!(code(check_owner("billing", "B", Some("A"))), "name_owned");
        assert_eq!(code(check_owner("billing", "B", None)), "ok");
    }

    #[test]
    fn an_older_build_is_refused_unless_asked_for() {
        assert_eq!(code(check_downgrade(10, Some(20), false)), "downgrade");
        assert_eq!(code(check_downgrade(10, Some(20), true)), "ok");
        assert_eq!(code(check_downgrade(20, Some(20), false)), "ok");
        assert_eq!(code(check_downgrade(30, Some(20), false)), "ok");
        assert_eq!(code(check_downgrade(10, None, false)), "ok");
    }
}
