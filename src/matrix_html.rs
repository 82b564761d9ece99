//! The seed's table as a page: every cell decided by the checker, each
//! violated one linking to its counterexample's chart further down.

use crate::check::html::{chart, esc, page_start};
use crate::check::report::Report;
use crate::core::release::KafkaVersion;
use crate::matrix::{Matrix, assemble, checked};
use crate::scenario::Verdict;
use std::fmt::Write;
use std::path::Path;

/// As `matrix::build`, with the table as a page as well.
pub fn build(
    models: &Path,
    release: Option<KafkaVersion>,
    progress: bool,
    threads: usize,
) -> Result<(Matrix, String), String> {
    let (plan, reports) = checked(models, release, progress, threads)?;
    let m = assemble(&plan, &reports)?;
    let page = render(&m, &plan.cell_reports(&reports));
    Ok((m, page))
}

/// `cells`: each cell's report, row by row, as `Plan::cell_reports` gives them.
pub fn render(m: &Matrix, cells: &[Option<&Report>]) -> String {
    let mut page = page_start(&format!(
        "The seed's table, decided by the model checker for Kafka {}",
        m.kafka_version
    ));
    page.push_str(
        "<p>RF=3, 2 records, one broker crash (f=1), one producer retry. \
         A violated cell links to its shortest counterexample.</p>",
    );
    page.push_str("<table class=matrix><tr><th>acks</th><th>min.insync.replicas</th>");
    for c in &m.columns {
        let _ = write!(page, "<th>{}</th>", esc(c));
    }
    page.push_str("</tr>");
    let mut charts = String::new();
    let mut i = 0;
    for r in &m.rows {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td>",
            esc(&r.acks),
            r.min_insync_replicas
        );
        for (col, c) in r.cells.iter().enumerate() {
            let id = format!("cell-{i}");
            let report = cells.get(i).copied().flatten();
            i += 1;
            let p = report.and_then(|rep| rep.property(&c.property));
            let text = match (c.verdict, p.and_then(|p| p.counterexample.as_ref())) {
                (Some(Verdict::Violated), Some(ce)) => {
                    let title = format!(
                        "acks={} min.insync.replicas={}, {}: ",
                        r.acks, r.min_insync_replicas, m.columns[col]
                    );
                    chart(
                        &mut charts,
                        &id,
                        &title,
                        p.expect("it has a counterexample"),
                    );
                    format!(
                        "<a class=violated href='#{id}'>violated ({} steps)</a><br><small>{}</small>",
                        ce.length,
                        esc(&c.scenario)
                    )
                }
                (Some(v), _) => format!("<span class={v}>{v}</span>"),
                (None, _) => esc(c.unavailable.as_deref().unwrap_or("not in the catalogue")),
            };
            let _ = write!(page, "<td>{text}</td>");
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
    page.push_str(&charts);
    page.push_str("</body></html>\n");
    page
}
