/* libFuzzer harness: the strict JSON object check and the UTF-8 check, and
 * (when the core has it: MJ_HAVE_JSON_PARSE) the event parser mj_json_parse
 * against the check. Invariants:
 * - an accepted object is valid UTF-8 as a whole, starts with '{' (after
 *   whitespace), and has no more top-level members than bytes;
 * - mj_json_parse accepts exactly what mj_json_object_check accepts, with the
 *   same member count; its events nest (every OBJECT/ARRAY has its END, never
 *   deeper than MJ_JSON_MAX_DEPTH), every span lies inside the input, and
 *   every unescaped key and string is valid UTF-8 no longer than its span. */
#include <stdlib.h>
#include "mj_core.h"

#ifdef MJ_HAVE_JSON_PARSE
typedef struct {
    const unsigned char *start, *end;
    long depth, max_depth, opened, closed;
    unsigned char *scratch;
} fuzz_counts;

static int fuzz_sink(void *ctx, int event, const unsigned char *raw, size_t len, int escaped)
{
    fuzz_counts *c = ctx;
    if (raw != NULL && (raw < c->start || raw + len > c->end))
        abort(); /* a span outside the input */
    switch (event) {
    case MJ_JSON_OBJECT:
    case MJ_JSON_ARRAY:
        c->opened++;
        if (++c->depth > c->max_depth)
            c->max_depth = c->depth;
        break;
    case MJ_JSON_END:
        c->closed++;
        if (--c->depth < 0)
            abort();
        break;
    case MJ_JSON_KEY:
    case MJ_JSON_STRING:
        if (escaped) {
            size_t n = mj_json_unescape(raw, len, c->scratch);
            if (n > len || !mj_utf8_valid(c->scratch, n))
                abort();
        } else if (!mj_utf8_valid(raw, len)) {
            abort();
        }
        break;
    default:
        break;
    }
    return MJ_OK;
}
#endif

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    size_t members = (size_t)-1, i = 0;
    int status = mj_json_object_check(data, size, &members);
    int utf8 = mj_utf8_valid(data, size);

    if (status == MJ_OK) {
        if (!utf8)
            abort(); /* accepted JSON with invalid UTF-8 */
        while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
            i++;
        if (i >= size || data[i] != '{' || members > size)
            abort();
    } else if (status != MJ_ERR_JSON && status != MJ_ERR_JSON_DEPTH && status != MJ_ERR_UTF8) {
        abort(); /* an unexpected status code */
    }

#ifdef MJ_HAVE_JSON_PARSE
    {
        fuzz_counts c = { data, data + size, 0, 0, 0, 0, malloc(size + 1) };
        size_t parsed_members = (size_t)-1;
        int parsed;
        if (c.scratch == NULL)
            abort();
        parsed = mj_json_parse(data, size, fuzz_sink, &c, &parsed_members);
        if ((parsed == MJ_OK) != (status == MJ_OK))
            abort(); /* the parser and the check disagree */
        if (parsed == MJ_OK && (parsed_members != members || c.opened != c.closed || c.depth != 0 ||
                                c.max_depth > MJ_JSON_MAX_DEPTH))
            abort();
        if (mj_json_parse(data, size, NULL, NULL, &parsed_members) != parsed)
            abort(); /* a NULL sink changes the answer */
        free(c.scratch);
    }
#endif
    return 0;
}
