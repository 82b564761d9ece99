//! `insync advise`: the flags turned into a question, the user's own files
//! (if any) into their current settings, and the advice printed.

use super::{AdviseArgs, ConfigFlags, Format};
use insync::advise::{self, Candidate, Question};
use insync::check::CheckOptions;
use insync::core::release::NEWEST;
use std::time::Duration;

/// Exit 0, or 1 when the user's own settings (given as files) do not pass.
pub fn advise(a: &AdviseArgs) -> Result<u8, String> {
    let files = ConfigFlags {
        files: a.files.clone(),
        kafka_version: a.kafka_version,
        ..ConfigFlags::default()
    };
    let release = a.kafka_version.unwrap_or(NEWEST);
    let given = a.files.all();
    let yours = if given.is_empty() {
        None
    } else {
        let (scenario, reading) = files.resolve_reading()?;
        let reading = reading.expect("files were given");
        if !a.quiet && a.format == Format::Text {
            eprint!("{}", reading.to_text());
        }
        Some((scenario.config, reading))
    };
    let replicas = a
        .replicas
        .or(yours.as_ref().map(|(c, _)| c.kafka.replication_factor))
        .unwrap_or(3);
    let q = Question {
        release,
        tolerate: a.tolerate,
        crash_mode: a.crash_mode,
        replicas,
        lag_removals: a.lag_removals,
        records: a.records,
    };
    // Your replica count is a fact of your cluster, not a setting to weigh.
    let own = yours.as_ref().map(|(c, _)| Candidate::of(c));
    let opts = CheckOptions {
        threads: a.threads,
        progress: !a.quiet,
        time_limit: a.seconds.map(Duration::from_secs),
        ..CheckOptions::default()
    };
    crate::stop_on_ctrl_c();
    let mut advice = advise::advise(&q, own, &opts)?;
    if let (Some((_, reading)), Some(own)) = (&yours, own) {
        // The rows are ranked nearest yours among equals.
        let target = advice.recommended().map(|r| r.candidate);
        let owned: Vec<_> = given.iter().map(|(r, f)| (*r, f.to_string())).collect();
        let yours_pass = advice.rows.iter().any(|r| r.yours && r.passes);
        if let Some(t) = target
            && !yours_pass
        {
            advice.changes = advise::changes(&own, &t, reading, &owned, release);
        }
    }
    if let Some(path) = &a.html {
        crate::write_file(path, &advise::to_html(&advice))?;
    }
    match a.format {
        Format::Text => print!("{}", advise::to_text(&advice)),
        Format::Markdown => print!("{}", advise::to_markdown(&advice)),
        Format::Json => println!("{}", advise::to_json(&advice)?),
    }
    let rejected = advice.rows.iter().any(|r| r.yours && !r.passes);
    Ok(u8::from(rejected))
}
