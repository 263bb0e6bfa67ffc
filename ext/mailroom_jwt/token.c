/* The compact-JWS token scan, a strict UTF-8 check and a strict JSON
 * (RFC 8259) object validator with a depth cap. */
#include <string.h>
#include "mj_core.h"

static const unsigned char mj_token_chars[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['_'] = 1, ['.'] = 2
};

int mj_token_scan(const char *token, size_t len, mj_segments *seg)
{
    size_t i, dots = 0, first = 0, second = 0;

    if (len > MJ_TOKEN_MAX)
        return MJ_ERR_TOO_LONG;
    for (i = 0; i < len; i++) {
        unsigned char kind = mj_token_chars[(unsigned char)token[i]];
        if (kind == 0)
            return MJ_ERR_CHAR;
        if (kind == 2) {
            if (dots == 0)
                first = i;
            else if (dots == 1)
                second = i;
            dots++;
        }
    }
    if (dots != 2)
        return MJ_ERR_SEGMENTS;
    seg->header = token;
    seg->header_len = first;
    seg->payload = token + first + 1;
    seg->payload_len = second - first - 1;
    seg->sig = token + second + 1;
    seg->sig_len = len - second - 1;
    if (seg->header_len == 0 || seg->payload_len == 0)
        return MJ_ERR_EMPTY_SEGMENT;
    return MJ_OK;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t mj_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0;
        if (c == 0xed && s[1] >= 0xa0)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

int mj_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t k = mj_utf8_seq(s + i, len - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int status;
} mj_json;

static void mj_ws(mj_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int mj_fail(mj_json *j, int status)
{
    if (j->status == MJ_OK)
        j->status = status;
    return 0;
}

static int mj_hex4(const unsigned char *p, unsigned int *out)
{
    unsigned int v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned int)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static int mj_string(mj_json *j)
{
    j->p++; /* opening quote */
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return mj_fail(j, MJ_ERR_JSON);
        if (c == '\\') {
            if (j->end - j->p < 2)
                return mj_fail(j, MJ_ERR_JSON);
            c = j->p[1];
            if (c == 'u') {
                unsigned int u, low;
                if (j->end - j->p < 6 || !mj_hex4(j->p + 2, &u))
                    return mj_fail(j, MJ_ERR_JSON);
                j->p += 6;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return mj_fail(j, MJ_ERR_UTF8);
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                        !mj_hex4(j->p + 2, &low) || low < 0xdc00 || low > 0xdfff)
                        return mj_fail(j, MJ_ERR_UTF8);
                    j->p += 6;
                }
                continue;
            }
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
                c != 'n' && c != 'r' && c != 't')
                return mj_fail(j, MJ_ERR_JSON);
            j->p += 2;
            continue;
        }
        if (c < 0x80) {
            j->p++;
        } else {
            size_t k = mj_utf8_seq(j->p, (size_t)(j->end - j->p));
            if (k == 0)
                return mj_fail(j, MJ_ERR_UTF8);
            j->p += k;
        }
    }
    return mj_fail(j, MJ_ERR_JSON);
}

static int mj_digits(mj_json *j)
{
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

static int mj_number(mj_json *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return mj_fail(j, MJ_ERR_JSON);
    if (*j->p == '0') {
        j->p++;
    } else if (!mj_digits(j)) {
        return mj_fail(j, MJ_ERR_JSON);
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!mj_digits(j))
            return mj_fail(j, MJ_ERR_JSON);
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!mj_digits(j))
            return mj_fail(j, MJ_ERR_JSON);
    }
    return 1;
}

static int mj_literal(mj_json *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return mj_fail(j, MJ_ERR_JSON);
    j->p += n;
    return 1;
}

/* An iterative parser: stack[d] is '{' or '[' for each open container. */
int mj_json_object_check(const unsigned char *json, size_t len, size_t *members)
{
    mj_json j;
    char stack[MJ_JSON_MAX_DEPTH];
    int depth = 0;
    size_t top = 0;

    j.p = json;
    j.end = json + len;
    j.status = MJ_OK;
    mj_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return MJ_ERR_JSON;
    stack[depth++] = '{';
    j.p++;
    mj_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        depth = 0;
        goto done;
    }
    for (;;) {
        /* at the start of a member (object) or an element (array) */
        mj_ws(&j);
        if (j.p >= j.end)
            return MJ_ERR_JSON;
        if (stack[depth - 1] == '{') {
            if (*j.p != '"' || !mj_string(&j))
                return j.status ? j.status : MJ_ERR_JSON;
            if (depth == 1)
                top++;
            mj_ws(&j);
            if (j.p >= j.end || *j.p != ':')
                return MJ_ERR_JSON;
            j.p++;
            mj_ws(&j);
            if (j.p >= j.end)
                return MJ_ERR_JSON;
        }
        /* a value */
        switch (*j.p) {
        case '{':
        case '[':
            if (depth >= MJ_JSON_MAX_DEPTH)
                return MJ_ERR_JSON_DEPTH;
            stack[depth++] = (char)*j.p;
            j.p++;
            mj_ws(&j);
            if (j.p < j.end && *j.p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j.p++;
                depth--;
                break; /* an empty container is a complete value */
            }
            continue;
        case '"':
            if (!mj_string(&j))
                return j.status;
            break;
        case 't':
            if (!mj_literal(&j, "true", 4))
                return j.status;
            break;
        case 'f':
            if (!mj_literal(&j, "false", 5))
                return j.status;
            break;
        case 'n':
            if (!mj_literal(&j, "null", 4))
                return j.status;
            break;
        default:
            if (*j.p == '-' || (*j.p >= '0' && *j.p <= '9')) {
                if (!mj_number(&j))
                    return j.status;
                break;
            }
            return MJ_ERR_JSON;
        }
        /* after a complete value: a comma or the end of containers */
        for (;;) {
            mj_ws(&j);
            if (j.p >= j.end)
                return MJ_ERR_JSON;
            if (*j.p == ',') {
                j.p++;
                break;
            }
            if (*j.p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j.p++;
                depth--;
                if (depth == 0)
                    goto done;
                continue;
            }
            return MJ_ERR_JSON;
        }
    }
done:
    mj_ws(&j);
    if (j.p != j.end)
        return MJ_ERR_JSON;
    *members = top;
    return MJ_OK;
}
