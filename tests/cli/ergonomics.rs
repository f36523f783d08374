//! What a researcher meets first: pasted ids and URLs, dates and links in results, paging,
//! sorting and export formats, terminal width and colour, help and exit codes.

use crate::support::*;

#[test]
fn show_and_related_accept_every_pasted_form_of_an_id() {
    for pasted in [
        "arXiv:2403.05266",
        "https://arxiv.org/abs/2403.05266",
        "https://arxiv.org/pdf/2403.05266v1",
        "https://arxiv.org/pdf/2403.05266v1.pdf",
        "arxiv.org/abs/2403.05266",
    ] {
        assert_eq!(show(pasted)["arxiv_id"], "2403.05266", "{pasted}");
    }
    let related = run_json(&[
        "--json",
        "--index",
        shared_index(),
        "related",
        "https://arxiv.org/abs/2403.05266",
        "-n",
        "3",
    ]);
    assert!(!ids(&related).contains(&"2403.05266".to_string()));
    // A version the index does not hold stays an error, whatever form it came in.
    let output = run(&[
        "--index",
        shared_index(),
        "show",
        "https://arxiv.org/pdf/2403.05266v9.pdf",
    ]);
    assert_fails_naming(&output, "2403.05266");
}
