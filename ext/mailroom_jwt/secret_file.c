/* GitLab secret files: strict base64 of exactly 32 bytes, one trailing line
 * ending allowed (as Ruby's String#chomp strips it). Reading never blocks on
 * a FIFO, never reads more than MJ_SECRET_FILE_MAX bytes and wipes its
 * buffers; writing is atomic (temporary file, fsync, rename) with mode 0600. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "mj_core.h"

const char *mj_status_message(int status)
{
    switch (status) {
    case MJ_OK: return "ok";
    case MJ_ERR_TOO_LONG: return "token is too long";
    case MJ_ERR_SEGMENTS: return "Not enough or too many segments";
    case MJ_ERR_EMPTY_SEGMENT: return "Empty header or payload segment";
    case MJ_ERR_CHAR: return "Invalid character in token";
    case MJ_ERR_ENCODING: return "Invalid segment encoding";
    case MJ_ERR_JSON: return "Invalid JSON object";
    case MJ_ERR_JSON_DEPTH: return "JSON nested too deeply";
    case MJ_ERR_UTF8: return "Invalid UTF-8 in JSON";
    case MJ_ERR_FILE_OPEN: return "cannot open";
    case MJ_ERR_FILE_NOT_REGULAR: return "not a regular file";
    case MJ_ERR_FILE_TOO_LARGE: return "too large for a secret file";
    case MJ_ERR_FILE_READ: return "cannot read";
    case MJ_ERR_FILE_EMPTY: return "empty";
    case MJ_ERR_FILE_BASE64: return "not strict base64";
    case MJ_ERR_FILE_LENGTH: return "does not decode to exactly 32 bytes";
    case MJ_ERR_FILE_WRITE: return "cannot write";
    default: return "unknown error";
    }
}

int mj_secret_parse(const char *buf, size_t len, unsigned char out[MJ_SECRET_LEN])
{
    unsigned char decoded[MJ_SECRET_FILE_MAX];
    size_t decoded_len = 0;
    int rc;

    /* String#chomp: one "\r\n", "\n" or "\r" at the end. */
    if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
        len -= 2;
    else if (len >= 1 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len -= 1;
    if (len == 0)
        return MJ_ERR_FILE_EMPTY;
    if (len > MJ_SECRET_FILE_MAX)
        return MJ_ERR_FILE_TOO_LARGE;
    rc = mj_b64_strict_decode(buf, len, decoded, &decoded_len);
    if (rc != MJ_OK) {
        rc = MJ_ERR_FILE_BASE64;
    } else if (decoded_len != MJ_SECRET_LEN) {
        rc = MJ_ERR_FILE_LENGTH;
    } else {
        memcpy(out, decoded, MJ_SECRET_LEN);
        rc = MJ_OK;
    }
    OPENSSL_cleanse(decoded, sizeof(decoded));
    return rc;
}

int mj_secret_read(const char *path, unsigned char out[MJ_SECRET_LEN],
                   unsigned int *mode, int *err)
{
    char buf[MJ_SECRET_FILE_MAX + 1];
    size_t got = 0;
    struct stat st;
    int fd, rc;

    *err = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = errno;
        return MJ_ERR_FILE_OPEN;
    }
    if (fstat(fd, &st) != 0) {
        *err = errno;
        close(fd);
        return MJ_ERR_FILE_READ;
    }
    *mode = (unsigned int)(st.st_mode & 07777);
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return MJ_ERR_FILE_NOT_REGULAR;
    }
    if (st.st_size > MJ_SECRET_FILE_MAX) {
        close(fd);
        return MJ_ERR_FILE_TOO_LARGE;
    }
    /* Read to end of file, but never more than one byte past the cap: the
     * file may grow after fstat. */
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *err = errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            return MJ_ERR_FILE_READ;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got > MJ_SECRET_FILE_MAX)
        rc = MJ_ERR_FILE_TOO_LARGE;
    else
        rc = mj_secret_parse(buf, got, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static int mj_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes strict base64 of the key, no newline, mode 0600, atomically: a
 * temporary file beside the target, fsync, rename over it, fsync the folder. */
int mj_secret_write(const char *path, const unsigned char *key, size_t len, int *err)
{
    char encoded[((MJ_MAX_KEY_LEN + 2) / 3) * 4 + 1];
    char tmp[4096 + 64];
    unsigned char rnd[8];
    size_t enc_len, plen = strlen(path);
    const char *slash;
    int fd, rc = MJ_OK;

    *err = 0;
    if (plen == 0 || plen > 4096) {
        *err = ENAMETOOLONG;
        return MJ_ERR_FILE_WRITE;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        *err = EIO;
        return MJ_ERR_FILE_WRITE;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", path,
             (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *err = errno;
        return MJ_ERR_FILE_WRITE;
    }
    enc_len = mj_b64_encode(key, len, encoded);
    if (fchmod(fd, 0600) != 0 || mj_write_all(fd, encoded, enc_len) != 0 || fsync(fd) != 0) {
        *err = errno;
        rc = MJ_ERR_FILE_WRITE;
    }
    OPENSSL_cleanse(encoded, sizeof(encoded));
    if (close(fd) != 0 && rc == MJ_OK) {
        *err = errno;
        rc = MJ_ERR_FILE_WRITE;
    }
    if (rc == MJ_OK && rename(tmp, path) != 0) {
        *err = errno;
        rc = MJ_ERR_FILE_WRITE;
    }
    if (rc != MJ_OK) {
        unlink(tmp);
        return rc;
    }
    /* Make the rename durable. */
    slash = strrchr(path, '/');
    if (slash != NULL) {
        char dir[4096 + 1];
        size_t dlen = (size_t)(slash - path);
        if (dlen == 0)
            dlen = 1; /* the root folder */
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return MJ_OK;
}
