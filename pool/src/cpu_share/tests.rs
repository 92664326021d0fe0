use super::*;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

type Turn = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The future a long call of `call` waits on at its next deadline (past the free crossings).
fn long_turn(call: &mut CallCpu) -> Turn {
    while call.crossings < FREE_CROSSINGS {
        assert!(matches!(call.at_deadline(), UpdateDeadline::Yield(1)));
    }
    match call.at_deadline() {
        UpdateDeadline::YieldCustom(1, turn) => turn,
        _ => panic!("a long call should wait for a slice"),
    }
}

fn poll(turn: &mut Turn) -> Poll<()> {
    turn.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// Whether the yield (or wait) ends within a few polls.
fn finished(turn: &mut Turn) -> bool {
    (0..4).any(|_| poll(turn).is_ready())
}

#[test]
fn a_call_shorter_than_a_tick_only_yields() {
    let share = CpuShare::new(true, 1);
    let mut call = CallCpu::new(&share.tenant());
    assert!(matches!(call.at_deadline(), UpdateDeadline::Yield(1)));
    call.restart();
    assert!(matches!(call.at_deadline(), UpdateDeadline::Yield(1)));
}

#[test]
fn switched_off_every_deadline_only_yields() {
    let share = CpuShare::new(false, 1);
    let tenant = share.tenant();
    let mut call = CallCpu::new(&tenant);
    for _ in 0..10 {
        assert!(matches!(call.at_deadline(), UpdateDeadline::Yield(1)));
    }
    assert_eq!((tenant.slices(), tenant.waits()), (0, 0));
}

#[test]
fn past_the_ticks_slices_a_long_call_waits_for_the_next_tick() {
    let share = CpuShare::new(true, 1);
    let tenant = share.tenant();
    let (mut first, mut second) = (CallCpu::new(&tenant), CallCpu::new(&tenant));
    let mut runs = long_turn(&mut first);
    assert!(finished(&mut runs), "the tick's one slice is free");
    let mut waits = long_turn(&mut second);
    assert!(!finished(&mut waits), "no slice is left in this tick");
    assert_eq!((tenant.slices(), tenant.waits()), (1, 1));
    share.tick(Instant::now());
    assert!(finished(&mut waits));
    assert_eq!(tenant.slices(), 2);
}

#[test]
fn the_function_that_used_less_gets_the_next_slice_though_it_came_last() {
    let share = CpuShare::new(true, 1);
    let (spinner, neighbour) = (share.tenant(), share.tenant());
    let mut running = long_turn(&mut CallCpu::new(&spinner));
    assert!(finished(&mut running), "the tick's one slice is free");
    let mut spinning: Vec<Turn> = (0..3)
        .map(|_| long_turn(&mut CallCpu::new(&spinner)))
        .collect();
    assert!(spinning.iter_mut().all(|t| poll(t).is_pending()));
    // The spinner's calls wait for the next tick when the neighbour's long call comes.
    let mut call = CallCpu::new(&neighbour);
    let mut neighbours = long_turn(&mut call);
    assert!(!finished(&mut neighbours));
    share.tick(Instant::now());
    assert!(finished(&mut neighbours), "least used goes first");
    assert!(spinning.iter_mut().all(|t| poll(t).is_pending()));
    share.tick(Instant::now());
    let mut ready = 0;
    for turn in &mut spinning {
        ready += usize::from(poll(turn).is_ready());
    }
    assert_eq!(ready, 1);
}

#[test]
fn a_slice_is_not_lost_to_a_call_that_went_away_while_waiting() {
    let share = CpuShare::new(true, 1);
    let tenant = share.tenant();
    let mut taken = long_turn(&mut CallCpu::new(&tenant));
    assert!(finished(&mut taken));
    let mut gone = long_turn(&mut CallCpu::new(&tenant));
    let mut stays = long_turn(&mut CallCpu::new(&tenant));
    assert!(poll(&mut gone).is_pending() && poll(&mut stays).is_pending());
    drop(gone);
    share.tick(Instant::now());
    assert!(finished(&mut stays));
}

#[test]
fn one_thread_stays_free_for_short_calls_and_the_edge() {
    assert_eq!(CpuShare::lanes_for(1), 1);
    assert_eq!(CpuShare::lanes_for(2), 1);
    assert_eq!(CpuShare::lanes_for(8), 7);
}
