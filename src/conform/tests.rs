//! Each rule refuses a step that breaks it, and a lawful run passes.

use super::*;
use serde_json::Value;

/// Steps from `(node, life, event)` triples, in that order.
fn steps(events: &[(&str, usize, Value)]) -> Vec<Step> {
    events
        .iter()
        .enumerate()
        .map(|(i, (node, life, event))| Step {
            file: PathBuf::from("t.jsonl"),
            line: i + 1,
            life: *life,
            ts_us: i as u64,
            node: node.to_string(),
            topic: "t".into(),
            partition: 0,
            event: serde_json::from_value(event.clone())
                .unwrap_or_else(|e| panic!("a well-formed event: {e}: {event}")),
            text: String::new(),
        })
        .collect()
}

fn lawful() -> Vec<(&'static str, usize, Value)> {
    use serde_json::json;
    vec![
        (
            "controller",
            0,
            json!({"type":"LeaderElected","broker":0,"epoch":1,"kind":"Clean","isr":[0,1]}),
        ),
        (
            "broker 0",
            0,
            json!({"type":"BecameLeader","broker":0,"epoch":1,"isr":[0,1],"high_watermark":0}),
        ),
        (
            "broker 1",
            0,
            json!({"type":"BecameFollower","broker":1,"leader":0,"epoch":1}),
        ),
        (
            "broker 0",
            0,
            json!({"type":"LeaderAppend","broker":0,"epoch":1,"offset":0,"record":{"records":2},"high_watermark":0,"flushed":false}),
        ),
        (
            "broker 1",
            0,
            json!({"type":"FollowerAppend","broker":1,"leader":0,"from":0,"to":2,"high_watermark":0,"flushed":false}),
        ),
        (
            "broker 0",
            0,
            json!({"type":"FetchRecorded","leader":0,"follower":1,"fetch_offset":2}),
        ),
        (
            "broker 0",
            0,
            json!({"type":"HighWatermarkAdvanced","broker":0,"high_watermark":2}),
        ),
        (
            "controller",
            0,
            json!({"type":"BrokerFenced","broker":0,"isr":[1],"elr":[],"leader_lost":true}),
        ),
        (
            "controller",
            0,
            json!({"type":"LeaderElected","broker":1,"epoch":2,"kind":"Clean","isr":[1]}),
        ),
        (
            "broker 1",
            0,
            json!({"type":"BecameLeader","broker":1,"epoch":2,"isr":[1],"high_watermark":0}),
        ),
        (
            "broker 1",
            0,
            json!({"type":"LeaderAppend","broker":1,"epoch":2,"offset":2,"record":{"records":1},"high_watermark":0,"flushed":false}),
        ),
        // Broker 0 comes back (a new life) having lost its unflushed tail.
        (
            "broker 0",
            1,
            json!({"type":"BecameFollower","broker":0,"leader":1,"epoch":2}),
        ),
        (
            "broker 0",
            1,
            json!({"type":"Truncated","broker":0,"to":1,"reason":"diverged"}),
        ),
        (
            "broker 0",
            1,
            json!({"type":"FollowerAppend","broker":0,"leader":1,"from":1,"to":3,"high_watermark":2,"flushed":false}),
        ),
    ]
}

fn rule_broken(events: Vec<(&'static str, usize, Value)>) -> Option<&'static str> {
    check(&steps(&events)).violation.map(|v| v.rule)
}

#[test]
fn a_lawful_run_passes() {
    let out = check(&steps(&lawful()));
    assert!(out.violation.is_none(), "{:?}", out.violation);
    assert_eq!(out.steps, lawful().len());
}

#[test]
fn each_rule_refuses_the_step_that_breaks_it() {
    use serde_json::json;
    let with = |i: usize, e: (&'static str, usize, Value)| {
        let mut v = lawful();
        v[i] = e;
        v
    };
    let cases = [
        // A follower appends as if it led.
        (
            with(
                3,
                (
                    "broker 1",
                    0,
                    json!({"type":"LeaderAppend","broker":1,"epoch":1,"offset":0,"record":{"records":2},"high_watermark":0,"flushed":false}),
                ),
            ),
            "append-by-leader",
        ),
        // The leader skips an offset.
        (
            with(
                3,
                (
                    "broker 0",
                    0,
                    json!({"type":"LeaderAppend","broker":0,"epoch":1,"offset":1,"record":{"records":2},"high_watermark":0,"flushed":false}),
                ),
            ),
            "append-at-log-end",
        ),
        // The HW passes what the follower in the ISR has.
        (
            with(
                5,
                (
                    "broker 0",
                    0,
                    json!({"type":"FetchRecorded","leader":0,"follower":1,"fetch_offset":1}),
                ),
            ),
            "hw-replicated-to-isr",
        ),
        // The last known leader elected while the ISR still has a member.
        (
            with(
                8,
                (
                    "controller",
                    0,
                    json!({"type":"LeaderElected","broker":0,"epoch":2,"kind":"LastKnownLeader","isr":[0]}),
                ),
            ),
            "last-known-leader-only-without-isr-and-elr",
        ),
        // A preferred-leader election while the partition has no leader
        // (broker 0 was just fenced): it moves leadership, never restores it.
        (
            with(
                8,
                (
                    "controller",
                    0,
                    json!({"type":"LeaderElected","broker":0,"epoch":2,"kind":"Preferred","isr":[1]}),
                ),
            ),
            "preferred-election-moves-a-leader-within-the-isr",
        ),
        // A clean election of a broker outside the ISR.
        (
            with(
                8,
                (
                    "controller",
                    0,
                    json!({"type":"LeaderElected","broker":0,"epoch":2,"kind":"Clean","isr":[0]}),
                ),
            ),
            "clean-election-from-isr",
        ),
        // An epoch reused.
        (
            with(
                8,
                (
                    "controller",
                    0,
                    json!({"type":"LeaderElected","broker":1,"epoch":1,"kind":"Clean","isr":[1]}),
                ),
            ),
            "leader-epoch-increases",
        ),
        // A broker leads an epoch nobody gave it.
        (
            with(
                9,
                (
                    "broker 1",
                    0,
                    json!({"type":"BecameLeader","broker":1,"epoch":3,"isr":[1],"high_watermark":0}),
                ),
            ),
            "leader-was-elected",
        ),
        // A follower copies offsets its leader never had.
        (
            with(
                4,
                (
                    "broker 1",
                    0,
                    json!({"type":"FollowerAppend","broker":1,"leader":0,"from":0,"to":3,"high_watermark":0,"flushed":false}),
                ),
            ),
            "copy-of-leader",
        ),
        // A restart that grew the log.
        (
            with(
                12,
                (
                    "broker 0",
                    1,
                    json!({"type":"Truncated","broker":0,"to":5,"reason":"diverged"}),
                ),
            ),
            "restart-keeps-a-prefix",
        ),
        // The HW goes back while leading.
        (
            {
                let mut v = lawful();
                v.push((
                    "broker 1",
                    0,
                    json!({"type":"HighWatermarkAdvanced","broker":1,"high_watermark":3}),
                ));
                v.push((
                    "broker 1",
                    0,
                    json!({"type":"HighWatermarkAdvanced","broker":1,"high_watermark":1}),
                ));
                v
            },
            "hw-never-decreases",
        ),
    ];
    for (events, rule) in cases {
        assert_eq!(rule_broken(events), Some(rule));
    }
}

#[test]
fn a_malformed_line_names_its_file_and_line() {
    let dir = std::env::temp_dir().join(format!("insync-conform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broker-0.jsonl"),
        "{\"event\":{\"type\":\"BecameFollower\",\"broker\":0,\"leader\":null,\"epoch\":0},\"node\":\"broker 0\",\"topic\":\"t\",\"partition\":0,\"ts_us\":1}\nnot json\n",
    )
    .unwrap();
    let e = load(&dir).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("broker-0.jsonl:2"), "{e}");
    // An event is read as the core's own type: a missing field is named.
    std::fs::write(
        dir.join("broker-0.jsonl"),
        "{\"event\":{\"type\":\"BecameFollower\",\"broker\":0,\"leader\":null},\"node\":\"broker 0\",\"topic\":\"t\",\"partition\":0,\"ts_us\":1}\n",
    )
    .unwrap();
    let e = load(&dir).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.to_string().contains("missing field `epoch`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn in_a_tie_the_controllers_decision_comes_first() {
    let dir = std::env::temp_dir().join(format!("insync-conform-tie-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let line = |node: &str, event: &str| {
        format!(r#"{{"node":"{node}","topic":"t","partition":0,"ts_us":7,"event":{event}}}"#)
    };
    std::fs::write(
        dir.join("broker-0.jsonl"),
        line(
            "broker 0",
            r#"{"type":"BecameLeader","broker":0,"epoch":1,"isr":[0],"high_watermark":0}"#,
        ) + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("controller.jsonl"),
        line(
            "controller",
            r#"{"type":"LeaderElected","broker":0,"epoch":1,"kind":"Clean","isr":[0]}"#,
        ) + "\n",
    )
    .unwrap();
    let steps = load(&dir).unwrap();
    assert_eq!(steps[0].node, "controller");
    assert!(check(&steps).violation.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_last_line_ends_the_trace_instead_of_failing_it() {
    let dir = std::env::temp_dir().join(format!("insync-conform-torn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("controller.jsonl"),
        "{\"node\":\"controller\",\"topic\":\"t\",\"partition\":0,\"ts_us\":1,\"event\":{\"type\":\"LeaderElected\",\"broker\":0,\"epoch\":1,\"kind\":\"Clean\",\"isr\":[0]}}\n{\"node\":\"contr",
    )
    .unwrap();
    assert_eq!(load(&dir).unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 16's divergence as a trace: broker 0 keeps its epoch-1 record at
/// offset 0, which broker 1 never held, and appends broker 1's offset 1
/// after it. Truncating first, as the diverging-epoch answer makes it, passes.
#[test]
fn a_follower_may_only_extend_a_log_that_matches_its_leaders() {
    use serde_json::json;
    let run = |truncate_first: bool| {
        // The lawful run's election of broker 0, then a record only it
        // holds, then its fencing and broker 1's epoch 2, as there.
        let l = lawful();
        let mut v = vec![
            l[0].clone(),
            l[1].clone(),
            (
                "broker 0",
                0,
                json!({"type":"LeaderAppend","broker":0,"epoch":1,"offset":0,"record":{"records":1},"high_watermark":0,"flushed":false}),
            ),
            l[7].clone(),
            l[8].clone(),
            l[9].clone(),
            (
                "broker 1",
                0,
                json!({"type":"LeaderAppend","broker":1,"epoch":2,"offset":0,"record":{"records":2},"high_watermark":0,"flushed":false}),
            ),
            (
                "broker 0",
                0,
                json!({"type":"BecameFollower","broker":0,"leader":1,"epoch":2}),
            ),
        ];
        let from = if truncate_first {
            v.push((
                "broker 0",
                0,
                json!({"type":"Truncated","broker":0,"to":0,"reason":"diverged"}),
            ));
            0
        } else {
            1
        };
        v.push((
            "broker 0",
            0,
            json!({"type":"FollowerAppend","broker":0,"leader":1,"from":from,"to":2,"high_watermark":0,"flushed":false}),
        ));
        rule_broken(v)
    };
    assert_eq!(run(false), Some("extends-matching-log"));
    assert_eq!(run(true), None);
}

#[test]
fn the_last_known_leader_may_be_elected_once_isr_and_elr_are_empty() {
    use serde_json::json;
    let mut run = lawful();
    run.truncate(7);
    run.push((
        "controller",
        0,
        json!({"type":"BrokerFenced","broker":0,"isr":[],"elr":[],"leader_lost":true}),
    ));
    run.push((
        "controller",
        0,
        json!({"type":"LeaderElected","broker":0,"epoch":2,"kind":"LastKnownLeader","isr":[0]}),
    ));
    assert_eq!(rule_broken(run), None);
}

#[test]
fn a_preferred_election_moves_leadership_within_the_isr() {
    use serde_json::json;
    let mut run = lawful();
    run.truncate(7);
    run.push((
        "controller",
        0,
        json!({"type":"LeaderElected","broker":1,"epoch":2,"kind":"Preferred","isr":[0,1]}),
    ));
    run.push((
        "broker 1",
        0,
        json!({"type":"BecameLeader","broker":1,"epoch":2,"isr":[0,1],"high_watermark":2}),
    ));
    assert_eq!(rule_broken(run), None);
}
