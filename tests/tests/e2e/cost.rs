//! Cost per function (`GET /functions/NAME` → `cost`, and the Prometheus series): memory held
//! over time, the part held while calls ran, guest CPU time, cold starts and their phases.

use wasmgate_tests::{Gateway, guests};

#[tokio::test]
async fn a_function_reports_what_it_costs_and_waiting_is_not_cpu() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();
    let before = gw.function("slow").await.unwrap();
    assert_eq!(before["cost"]["cold_starts"], 0, "{before}");
    assert!(before["cost"]["last_cold_start_ms"].is_null(), "{before}");
    assert_eq!(before["cost"]["bytes_held"], 0, "nothing loaded: {before}");

    // Two calls that each wait 400 ms on a host timer: held and busy, but hardly any CPU.
    for _ in 0..2 {
        let answer = gw
            .client()
            .get(gw.url("/fn/slow?ms=400"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.bytes().await.unwrap();
    }
    let f = gw.function("slow").await.unwrap();
    let cost = &f["cost"];
    assert_eq!(cost["cold_starts"], 1, "{f}");
    let phases = &cost["last_cold_start_ms"];
    for phase in ["load", "link", "instantiate", "first_response"] {
        assert!(phases[phase].as_f64().unwrap() > 0.0, "{phase}: {f}");
    }
    // The first response waited its 400 ms too: it is part of what the first caller saw.
    assert!(phases["first_response"].as_f64().unwrap() >= 400.0, "{f}");
    let held = cost["bytes_held"].as_u64().unwrap();
    assert!(held > 0, "code stays loaded between calls: {f}");
    let busy = cost["busy_byte_seconds"].as_f64().unwrap();
    let total = cost["memory_byte_seconds"].as_f64().unwrap();
    // Busy for at least 2 × 0.4 s with at least the code held.
    assert!(
        busy >= held as f64 * 0.8,
        "busy {busy} < 0.8 s × {held}: {f}"
    );
    assert!(total >= busy, "{f}");
    assert!(
        cost["instance_peak_bytes"].as_u64().unwrap() >= 65536,
        "{f}"
    );
    let cpu = cost["guest_cpu_seconds"].as_f64().unwrap();
    assert!(cpu > 0.0, "{f}");
    assert!(
        cpu < 0.4,
        "the 0.8 s of waiting counted as CPU ({cpu} s): {f}"
    );

    let metrics = gw.metrics().await.unwrap();
    for family in [
        "wasmgate_memory_seconds_total",
        "wasmgate_memory_busy_seconds_total",
        "wasmgate_guest_cpu_seconds_total",
    ] {
        let value = wasmgate_tests::metric_sample(&metrics, family, &[("function", "slow")])
            .unwrap_or_else(|| panic!("{family} missing:\n{metrics}"));
        assert!(value > 0.0, "{family} = {value}");
    }
}
