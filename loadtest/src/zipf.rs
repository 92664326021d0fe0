//! Which function each request calls: always the first, or by Zipf popularity, the skew that
//! real serverless traffic shows (a few functions get most calls, a long tail gets a few).

use crate::error::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, Zipf};

/// A distribution of requests over functions `0..n`, function 0 the most popular.
#[derive(Clone, Copy, Debug)]
pub struct Popularity {
    zipf: Option<Zipf<f64>>,
    functions: usize,
}

impl Popularity {
    /// Every request goes to function 0.
    pub fn single() -> Popularity {
        Popularity {
            zipf: None,
            functions: 1,
        }
    }

    /// Function `k` (from 0) is picked with probability proportional to `1 / (k + 1)^exponent`,
    /// so function 0 gets `2^exponent` times the requests of function 1.
    pub fn zipf(functions: usize, exponent: f64) -> Result<Popularity> {
        if functions == 0 {
            return Err(Error::InvalidOptions(
                "the Zipf scenario needs at least one function (`--functions`)".into(),
            ));
        }
        let zipf = Zipf::new(functions as f64, exponent).map_err(|e| {
            Error::InvalidOptions(format!(
                "--zipf-exponent {exponent}: {e}; use a number >= 0"
            ))
        })?;
        Ok(Popularity {
            zipf: Some(zipf),
            functions,
        })
    }

    /// How many functions requests are spread over.
    pub fn functions(&self) -> usize {
        self.functions
    }

    /// The function index for the next request.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        match &self.zipf {
            None => 0,
            // Zipf samples ranks 1..=n as floats; the clamp guards the float-to-index step.
            Some(zipf) => (zipf.sample(rng) as usize).clamp(1, self.functions) - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts(popularity: &Popularity, draws: usize, seed: u64) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0u64; popularity.functions()];
        for _ in 0..draws {
            counts[popularity.pick(&mut rng)] += 1;
        }
        counts
    }

    #[test]
    fn function_zero_is_the_most_popular_and_rank_one_over_two_is_two_to_the_s() {
        for exponent in [1.0, 1.5] {
            let counts = counts(&Popularity::zipf(100, exponent).unwrap(), 400_000, 42);
            let top = counts.iter().copied().max().unwrap();
            assert_eq!(counts[0], top, "function 0 is the most popular");
            let ratio = counts[0] as f64 / counts[1] as f64;
            let expected = 2f64.powf(exponent);
            assert!(
                (ratio - expected).abs() / expected < 0.05,
                "s={exponent}: ratio {ratio}, expected {expected}"
            );
        }
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let counts = counts(&Popularity::zipf(10, 0.0).unwrap(), 100_000, 1);
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn single_always_picks_function_zero() {
        assert_eq!(counts(&Popularity::single(), 100, 3), [100]);
    }

    #[test]
    fn bad_parameters_are_refused_with_the_flag_name() {
        assert!(Popularity::zipf(0, 1.0).is_err());
        let err = Popularity::zipf(10, -1.0).unwrap_err();
        assert!(err.to_string().contains("--zipf-exponent"), "{err}");
    }
}
