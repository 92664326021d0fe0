//! `warm`: one function, already loaded, under steady load: the gateway's fast path.

use super::Round;
use crate::error::Result;
use crate::stats::Stats;
use crate::zipf::Popularity;

/// Measures one round; the warm-up in [`Round::measure`] makes sure the function is loaded.
pub(super) async fn round(round: &Round<'_>) -> Result<Vec<(String, Stats)>> {
    let stats = round.measure(Popularity::single()).await?;
    Ok(vec![("requests".to_owned(), stats)])
}
