//! `report.md`: the tables a person reads first, a section at a time.

mod cells;
mod chains;
mod conv;
mod head;
mod int8;
mod models;

use crate::report::rows::Report;

/// Renders the whole report: each section in the order a reader wants them.
pub(super) fn render(r: &Report) -> String {
    let sections: [fn(&mut String, &Report); 15] = [
        head::title,
        |w, r| w.push_str(&crate::report::summary::render(r)),
        head::targets,
        head::machine,
        conv::headline,
        conv::gemm_vs_direct,
        conv::peak_and_scaling,
        conv::every_row,
        conv::preparation,
        chains::gap,
        chains::fused,
        int8::int8,
        models::accounting,
        models::whole_network,
        head::verification,
    ];
    let mut s = String::new();
    for section in sections {
        section(&mut s, r);
    }
    s
}
