/* The compact-JWS token scan and a strict UTF-8 check. The JSON grammar is
 * in json.c. */
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

/* Eight bytes at a time (SWAR): the high bit of each byte of the result is
 * set where lo <= byte <= hi, for bytes below 0x80 (no carry crosses a byte). */
#define MJ_ONES 0x0101010101010101ULL
#define MJ_HIGHS 0x8080808080808080ULL
static uint64_t mj_bytes_in(uint64_t x, unsigned int lo, unsigned int hi)
{
    return (x + MJ_ONES * (128 - lo)) & ~(x + MJ_ONES * (127 - hi)) & MJ_HIGHS;
}

/* Non-zero when a byte of the word is outside base64url and '.'. */
static uint64_t mj_word_bad(uint64_t x)
{
    uint64_t high = x & MJ_HIGHS, low = x & ~MJ_HIGHS;
    uint64_t folded = low & ~(MJ_ONES * 0x20); /* a-z onto A-Z */
    uint64_t ok = mj_bytes_in(folded, 'A', 'Z') | mj_bytes_in(low, '0', '9') |
                  mj_bytes_in(low, '-', '.') | mj_bytes_in(low, '_', '_');
    return high | (ok ^ MJ_HIGHS);
}

int mj_token_scan(const char *token, size_t len, mj_segments *seg)
{
    size_t i = 0;
    uint64_t bad = 0;
    const char *first, *second;

    if (len > MJ_TOKEN_MAX)
        return MJ_ERR_TOO_LONG;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, token + i, 8);
        bad |= mj_word_bad(word);
    }
    for (; i < len; i++)
        bad |= mj_token_chars[(unsigned char)token[i]] == 0;
    if (bad)
        return MJ_ERR_CHAR;
    first = len ? memchr(token, '.', len) : NULL;
    if (first == NULL)
        return MJ_ERR_SEGMENTS;
    second = memchr(first + 1, '.', len - (size_t)(first + 1 - token));
    if (second == NULL || memchr(second + 1, '.', len - (size_t)(second + 1 - token)) != NULL)
        return MJ_ERR_SEGMENTS;
    seg->header = token;
    seg->header_len = (size_t)(first - token);
    seg->payload = first + 1;
    seg->payload_len = (size_t)(second - first - 1);
    seg->sig = second + 1;
    seg->sig_len = len - (size_t)(second + 1 - token);
    if (seg->header_len == 0 || seg->payload_len == 0)
        return MJ_ERR_EMPTY_SEGMENT;
    return MJ_OK;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t mj_utf8_seq(const unsigned char *s, size_t n)
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

/* Kept for the fuzz harnesses and the Ruby layer: validation only. */
int mj_json_object_check(const unsigned char *json, size_t len, size_t *members)
{
    return mj_json_parse(json, len, NULL, NULL, members);
}
