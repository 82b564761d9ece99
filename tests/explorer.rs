//! stateright's Explorer serves the model: run it to completion over HTTP
//! and check the properties it reports.

use insync::core::types::Acks;
use insync::model::{CrashMode, ModelConfig};
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[test]
fn the_explorer_runs_to_completion_and_reports_the_acks_1_loss() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = ModelConfig {
        kafka: insync::core::settings::KafkaSettings {
            acks: Acks::One,
            min_insync_replicas: 1,
            retries: 0,
            ..Default::default()
        },
        records: 1,
        crash_mode: CrashMode::Process,
        lag_removals: 0,
        ..ModelConfig::default()
    };
    let serve_addr = addr.clone();
    std::thread::spawn(move || {
        use stateright::Model;
        cfg.into_model().checker().serve(serve_addr.as_str());
    });
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(120);
    // Wait for the server, then start the full check.
    loop {
        if ureq::post(format!("{base}/.runtocompletion"))
            .send_empty()
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the Explorer never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = loop {
        let body = ureq::get(format!("{base}/.status"))
            .call()
            .expect("/.status answers")
            .body_mut()
            .read_to_string()
            .expect("a body");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if v["done"].as_bool() == Some(true) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the check did not finish: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let props = status["properties"].as_array().expect("properties");
    let discovery = |name: &str| {
        props
            .iter()
            .find(|p| p[1] == name)
            .map(|p| !p[2].is_null())
            .unwrap_or_else(|| panic!("{name} is reported"))
    };
    assert!(
        discovery("acked_never_lost"),
        "acks=1 loses an acked record"
    );
    assert!(!discovery("leader_in_isr"), "no election leaves the ISR");
    assert!(status["unique_state_count"].as_u64().unwrap() > 1000);
}
