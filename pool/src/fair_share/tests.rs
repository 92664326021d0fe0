use super::*;

fn used(slices: u32, at: Instant) -> Usage {
    let mut usage = Usage::new(at);
    for _ in 0..slices {
        usage.charge(at);
    }
    usage
}

#[test]
fn the_function_that_used_less_goes_first_even_if_it_came_later() {
    let now = Instant::now();
    let (heavy, light) = (used(50, now), used(1, now));
    assert_eq!(next([(heavy, 0), (heavy, 1), (light, 2)], now), Some(2));
}

#[test]
fn calls_of_one_function_go_in_arrival_order() {
    let now = Instant::now();
    let usage = used(3, now);
    assert_eq!(next([(usage, 7), (usage, 4), (usage, 9)], now), Some(1));
}

#[test]
fn nobody_waiting_means_nobody_is_chosen() {
    assert_eq!(next(std::iter::empty(), Instant::now()), None);
}

#[test]
fn use_halves_every_half_life() {
    let start = Instant::now();
    let usage = used(8, start);
    assert_eq!(usage.at(start), 8.0);
    assert!((usage.at(start + USAGE_HALF_LIFE) - 4.0).abs() < 1e-9);
    assert!((usage.at(start + 3 * USAGE_HALF_LIFE) - 1.0).abs() < 1e-9);
}

#[test]
fn a_function_busy_long_ago_competes_as_new_against_one_busy_now() {
    let start = Instant::now();
    let long_ago = used(100, start);
    let later = start + 20 * USAGE_HALF_LIFE;
    let busy_now = used(1, later);
    assert_eq!(next([(busy_now, 0), (long_ago, 1)], later), Some(1));
}

#[test]
fn a_clock_that_steps_back_changes_nothing() {
    let start = Instant::now() + Duration::from_secs(5);
    let mut usage = used(2, start);
    usage.charge(start - Duration::from_secs(1));
    assert_eq!(usage.at(start), 3.0);
}
