/* HMAC-SHA256 (RFC 2104) with the padded key's midstates computed once. */
#include <string.h>
#include <openssl/crypto.h>
#include "mj_core.h"

int mj_key_init(mj_key *key, const unsigned char *bytes, size_t len)
{
    unsigned char block[MJ_BLOCK_LEN];
    unsigned char pad[MJ_BLOCK_LEN];
    size_t i;

    if (len > MJ_MAX_KEY_LEN)
        return -1;
    memset(key, 0, sizeof(*key));
    memset(block, 0, sizeof(block));
    if (len > MJ_BLOCK_LEN) {
        SHA256(bytes, len, block);
    } else if (len > 0) {
        memcpy(block, bytes, len);
    }
    for (i = 0; i < MJ_BLOCK_LEN; i++)
        pad[i] = block[i] ^ 0x36;
    SHA256_Init(&key->inner);
    SHA256_Update(&key->inner, pad, MJ_BLOCK_LEN);
    for (i = 0; i < MJ_BLOCK_LEN; i++)
        pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&key->outer);
    SHA256_Update(&key->outer, pad, MJ_BLOCK_LEN);
    if (len > 0)
        memcpy(key->raw, bytes, len);
    key->raw_len = len;
    key->ready = 1;
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    return 0;
}

void mj_key_wipe(mj_key *key)
{
    OPENSSL_cleanse(key, sizeof(*key));
}

/* The HMAC's temporaries, wiped with one call when done. */
typedef struct {
    SHA256_CTX ctx;
    unsigned char inner[MJ_MAC_LEN];
    unsigned char mac[MJ_MAC_LEN];
    unsigned char given[MJ_MAC_LEN];
} mj_scratch;

static void mj_hmac_with(const mj_key *key, const unsigned char *msg, size_t len,
                         unsigned char out[MJ_MAC_LEN], mj_scratch *s)
{
    s->ctx = key->inner;
    SHA256_Update(&s->ctx, msg, len);
    SHA256_Final(s->inner, &s->ctx);
    s->ctx = key->outer;
    SHA256_Update(&s->ctx, s->inner, MJ_MAC_LEN);
    SHA256_Final(out, &s->ctx);
}

void mj_hmac(const mj_key *key, const unsigned char *msg, size_t len,
             unsigned char out[MJ_MAC_LEN])
{
    mj_scratch s;
    mj_hmac_with(key, msg, len, out, &s);
    OPENSSL_cleanse(&s, sizeof(s));
}

/* Constant time over a fixed length: callers decide length mismatches first. */
int mj_mac_equal(const unsigned char *a, const unsigned char *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int mj_key_equal(const mj_key *a, const mj_key *b)
{
    unsigned char ma[MJ_MAC_LEN], mb[MJ_MAC_LEN];
    static const unsigned char probe[] = "mailroom-jwt key comparison";
    int same;

    /* Keys compare by what they do, so that a long key and its digest (which
     * HMAC treats alike) are equal, without a data-dependent branch on bytes. */
    mj_hmac(a, probe, sizeof(probe) - 1, ma);
    mj_hmac(b, probe, sizeof(probe) - 1, mb);
    same = mj_mac_equal(ma, mb, MJ_MAC_LEN);
    OPENSSL_cleanse(ma, sizeof(ma));
    OPENSSL_cleanse(mb, sizeof(mb));
    return same;
}

/* The signature segment must be exactly the canonical 43-character spelling
 * of the 32-byte MAC; anything else is a failed verification. The MAC is
 * always computed so that a malformed signature costs as much as a wrong one. */
int mj_sig_valid(const mj_key *key, const mj_segments *seg)
{
    mj_scratch s;
    size_t given_len = 0;
    size_t signed_len = seg->header_len + 1 + seg->payload_len;
    int shape_ok, same;

    mj_hmac_with(key, (const unsigned char *)seg->header, signed_len, s.mac, &s);
    memset(s.given, 0, sizeof(s.given));
    shape_ok = seg->sig_len == MJ_SIG_B64_LEN &&
               mj_b64url_decode(seg->sig, seg->sig_len, s.given, &given_len) == MJ_OK &&
               given_len == MJ_MAC_LEN;
    same = mj_mac_equal(s.mac, s.given, MJ_MAC_LEN);
    OPENSSL_cleanse(&s, sizeof(s));
    return shape_ok && same;
}
