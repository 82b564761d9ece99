//! The HTML reports as people see them: rendered by headless Chromium,
//! with a probe that measures what the browser laid out (every step of
//! every chart drawn inside its row, every lifeline named, the lost record
//! marked in red, every link landing on its chart, nothing fetched from
//! the network, no script error).

mod common;

use common::insync;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const PROBE: &str = r##"<script>
(function () {
  const errors = [];
  window.addEventListener('error', e => errors.push(String(e.message)));
  const out = { errors, sections: [], links: [],
    resources: performance.getEntriesByType('resource').length };
  for (const s of document.querySelectorAll('section.counterexample')) {
    const rows = s.querySelectorAll('tr.step');
    let drawn = 0;
    for (const r of rows) {
      const svg = r.querySelector('td.lanes svg');
      const box = svg.getBoundingClientRect();
      const item = svg.querySelector('line.msg, g.mark');
      if (!item) continue;
      const ib = item.getBoundingClientRect();
      if (box.width > 100 && box.height >= 30 && (ib.width > 0 || ib.height > 0)
          && ib.left >= box.left - 1 && ib.right <= box.right + 1
          && ib.top >= box.top - 1 && ib.bottom <= box.bottom + 1) drawn++;
    }
    const names = [...s.querySelectorAll('th.lanes text.name')]
      .filter(t => t.getBoundingClientRect().width > 0).length;
    const lifelines = s.querySelectorAll('th.lanes line.life').length;
    const marked = [...s.querySelectorAll('span.rec.marked')]
      .map(e => getComputedStyle(e).backgroundColor);
    out.sections.push({ id: s.id, rows: rows.length, drawn, names, lifelines,
      marked: marked.length, colors: [...new Set(marked)] });
  }
  for (const a of document.querySelectorAll('a[href^="#"]')) {
    const id = a.getAttribute('href').slice(1);
    out.links.push({ id, lands: !!document.getElementById(id) });
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"##;

/// What the probe measured in `page` as Chromium rendered it, which
/// must have run no failing script and fetched nothing.
fn rendered(page: &Path) -> Value {
    rendered_with(page, PROBE)
}

fn rendered_with(page: &Path, probe: &str) -> Value {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = page.with_extension("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1500,1200",
            "--dump-dom",
        ])
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium runs (scripts/install-clients installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let (_, rest) = dom.split_once("<pre id=\"probe\">").expect("the probe ran");
    let (json, _) = rest.split_once("</pre>").unwrap();
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: Value = serde_json::from_str(&json).expect("the probe's JSON");
    assert_eq!(probe["errors"].as_array().unwrap().len(), 0, "{probe}");
    assert_eq!(
        probe["resources"], 0,
        "a self-contained page fetches nothing"
    );
    probe
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("insync-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `insync ARGS` writing `page`, and returns its JSON output.
fn with_page(args: &[&str], page: &Path) -> Value {
    let mut all = args.to_vec();
    all.extend([
        "--format",
        "json",
        "--quiet",
        "--html",
        page.to_str().unwrap(),
    ]);
    let (code, out, err) = insync(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

const RED: &str = "rgb(208, 2, 27)";

#[test]
#[ignore = "needs chromium: scripts/install-clients installs it"]
fn every_counterexample_is_drawn_step_by_step_in_a_real_browser() {
    let page = tmp("check.html");
    let report = with_page(&["check", "models/seed-acks1-isr1-process.toml"], &page);
    let violated: Vec<&Value> = report["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["verdict"] == "violated")
        .collect();
    assert!(violated.len() >= 2, "acks=1 loses records and more");
    let probe = rendered(&page);
    let sections = probe["sections"].as_array().unwrap();
    assert_eq!(
        sections.len(),
        violated.len(),
        "one chart per violated property"
    );
    for (s, p) in sections.iter().zip(&violated) {
        assert_eq!(s["id"], p["name"]);
        let steps = &p["counterexample"]["length"];
        assert_eq!(&s["rows"], steps, "{s}");
        assert_eq!(&s["drawn"], steps, "every step drawn inside its row: {s}");
        assert_eq!(s["names"], 5, "brokers 1-3, controller, producer: {s}");
        assert_eq!(s["lifelines"], 5);
    }
    let lost = &sections[0];
    assert_eq!(lost["id"], "acked_never_lost");
    assert!(
        lost["marked"].as_u64().unwrap() > 0,
        "the lost record is marked: {lost}"
    );
    assert_eq!(lost["colors"], serde_json::json!([RED]));
    let links = probe["links"].as_array().unwrap();
    assert_eq!(
        links.len(),
        violated.len(),
        "each violated verdict links to its chart"
    );
    assert!(links.iter().all(|l| l["lands"] == true), "{probe}");
}

#[test]
#[ignore = "needs chromium: scripts/install-clients installs it"]
fn the_seed_table_page_links_each_violated_cell_to_its_chart() {
    // A catalogue of the cheap cells only: the others say so.
    let models = tmp("models");
    std::fs::create_dir_all(&models).unwrap();
    for acks in ["0", "1"] {
        let name = format!("seed-acks{acks}-isr1-process.toml");
        std::fs::copy(Path::new("models").join(&name), models.join(&name)).unwrap();
    }
    let page = tmp("matrix.html");
    let args = [
        "matrix",
        "--models",
        models.to_str().unwrap(),
        "--kafka-version",
        "4.3",
    ];
    let m = with_page(&args, &page);
    let violated = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap())
        .filter(|c| c["verdict"] == "violated")
        .count();
    assert!(violated >= 2, "acks=0 and acks=1 lose records");
    let probe = rendered(&page);
    let sections = probe["sections"].as_array().unwrap();
    assert_eq!(sections.len(), violated, "a chart per violated cell");
    for s in sections {
        assert_eq!(s["rows"], s["drawn"], "{s}");
        assert!(s["rows"].as_u64().unwrap() > 0);
    }
    let links = probe["links"].as_array().unwrap();
    assert_eq!(links.len(), violated);
    assert!(links.iter().all(|l| l["lands"] == true), "{probe}");
}

/// Measures the torture report's plots: where each fault band, tick,
/// point and line landed, relative to its plot.
const PLOT_PROBE: &str = r##"<script>
(function () {
  const errors = [];
  window.addEventListener('error', e => errors.push(String(e.message)));
  const inside = (el, svg) => {
    const a = el.getBoundingClientRect(), b = svg.getBoundingClientRect();
    return a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  };
  const plot = sel => {
    const svg = document.querySelector(sel);
    if (!svg) return null;
    const all = q => [...svg.querySelectorAll(q)];
    return {
      bands: all('rect.band').length,
      bands_inside: all('rect.band').filter(e => inside(e, svg) && e.getBoundingClientRect().width > 0).length,
      band_labels: all('text.band').map(t => t.textContent),
      ticks: all('text.tick').filter(t => inside(t, svg)).map(t => t.textContent),
      points: all('circle, rect.pt').filter(e => inside(e, svg)).length,
      lines: all('polyline').filter(e => inside(e, svg) && e.getBoundingClientRect().width > 100).length,
      boxes: all('rect.ok, rect.fail, rect.info').length,
    };
  };
  const out = { errors, resources: performance.getEntriesByType('resource').length,
    timeline: plot('svg.timeline'), latency: plot('svg.latency'), rate: plot('svg.rate') };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"##;

#[test]
#[ignore = "needs chromium: scripts/install-clients installs it"]
fn the_torture_report_draws_the_faults_over_time_latency_and_throughput() {
    // Two clients over ten seconds; a kill of broker 1 from 3 s to 5 s and
    // a partition of broker 2 from 6 s to 8 s.
    let mut history = String::new();
    let s = 1_000_000_000u64;
    for i in 0..40u64 {
        let t = i * s / 4;
        let (ok, latency) = if (3 * s..5 * s).contains(&t) {
            ("info", s / 2)
        } else {
            ("ok", s / 100)
        };
        let offset = if ok == "ok" {
            format!(",\"offset\":{i}")
        } else {
            String::new()
        };
        history.push_str(&format!(
            "{{\"process\":{},\"f\":\"append\",\"partition\":\"t-0\",\"value\":\"v{i}\",\"invoke_ns\":{t},\"complete_ns\":{},\"type\":\"{ok}\"{offset}}}\n",
            i % 2,
            t + latency
        ));
    }
    let dir = tmp("torture");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("history.jsonl"), history).unwrap();
    std::fs::write(
        dir.join("nemesis.jsonl"),
        format!(
            "{{\"fault\":\"kill\",\"broker\":1,\"start_ns\":{},\"end_ns\":{}}}\n\
             {{\"fault\":\"partition\",\"broker\":2,\"start_ns\":{},\"end_ns\":{}}}\n",
            3 * s,
            5 * s,
            6 * s,
            8 * s
        ),
    )
    .unwrap();
    let page = dir.join("report.html");
    let history = dir.join("history.jsonl");
    // The nemesis file beside the history is found without being named.
    let (code, _, err) = insync(&[
        "lincheck",
        history.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let probe = rendered_with(&page, PLOT_PROBE);
    let timeline = &probe["timeline"];
    assert_eq!(timeline["bands"], 2, "{probe}");
    assert_eq!(timeline["bands_inside"], 2, "{probe}");
    assert_eq!(
        timeline["band_labels"],
        serde_json::json!(["kill broker 1", "partition broker 2"])
    );
    assert_eq!(timeline["boxes"], 40);
    let ticks: Vec<&str> = timeline["ticks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        ticks.contains(&"0 s") && ticks.contains(&"5 s"),
        "a time axis in seconds: {ticks:?}"
    );
    for plot in ["latency", "rate"] {
        assert_eq!(probe[plot]["bands_inside"], 2, "{plot}: {probe}");
    }
    assert_eq!(probe["latency"]["points"], 40, "one point per operation");
    assert_eq!(
        probe["rate"]["lines"], 3,
        "acknowledged appends, other appends, polls"
    );
}

#[test]
#[ignore = "needs chromium: scripts/install-clients installs it"]
fn each_rejected_advice_links_to_its_counterexample() {
    let page = tmp("advise.html");
    let args = ["advise", "--records", "1", "--crash-mode", "process"];
    let advice = with_page(&args, &page);
    let rejected = advice["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("breaks").is_some())
        .count();
    assert!(rejected > 0);
    let probe = rendered(&page);
    let sections = probe["sections"].as_array().unwrap();
    assert_eq!(
        sections.len(),
        rejected,
        "a chart per rejected row: {probe}"
    );
    for s in sections {
        assert_eq!(s["rows"], s["drawn"], "{s}");
    }
    let links = probe["links"].as_array().unwrap();
    assert_eq!(links.len(), rejected);
    assert!(links.iter().all(|l| l["lands"] == true), "{probe}");
}
