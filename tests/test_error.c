/*
 * test_error.c — mmk_strerror / mmk_errname: every library code and every
 * errno the table knows has a name and a message of its own, unknown codes
 * say so, and the two functions agree about which codes are known.
 */
#include <errno.h>
#include <limits.h>

#include "check.h"

int main(void) {
    CHECK(strcmp(mmk_version(), MMK_VERSION_STRING) == 0);
    CHECK(strcmp(mmk_strerror(0), "success") == 0);
    CHECK(strcmp(mmk_errname(0), "OK") == 0);

    /* Library codes: name and text exactly as in the header's table. */
#define LIB(name, value, text)                                                          \
    CHECK_EQ(MMK_##name, value);                                                        \
    CHECK(value < -5000 && value > -5999);                                              \
    CHECK(strcmp(mmk_errname(value), "MMK_" #name) == 0);                               \
    CHECK(strcmp(mmk_strerror(value), text) == 0);
    MMK_ERRNO_MAP(LIB)
#undef LIB

    /* The errno values the library is documented or likely to return. */
    struct {
        int code;
        const char *name;
    } sys[] = {
        {ENOENT, "ENOENT"},   {EACCES, "EACCES"},   {EPERM, "EPERM"},
        {EISDIR, "EISDIR"},   {ENOTDIR, "ENOTDIR"}, {EINVAL, "EINVAL"},
        {ENOMEM, "ENOMEM"},   {ENODEV, "ENODEV"},   {EBADF, "EBADF"},
        {ENOSPC, "ENOSPC"},   {EEXIST, "EEXIST"},   {EFBIG, "EFBIG"},
        {EOVERFLOW, "EOVERFLOW"}, {EAGAIN, "EAGAIN"}, {EBUSY, "EBUSY"},
        {EINTR, "EINTR"},     {EIO, "EIO"},         {ENAMETOOLONG, "ENAMETOOLONG"},
        {EROFS, "EROFS"},     {ETXTBSY, "ETXTBSY"}, {EMFILE, "EMFILE"},
        {ENFILE, "ENFILE"},   {ELOOP, "ELOOP"},     {EFAULT, "EFAULT"},
        {EDEADLK, "EDEADLK"}, {ENOSYS, "ENOSYS"},   {EOPNOTSUPP, "EOPNOTSUPP"},
        {ESPIPE, "ESPIPE"},   {ENXIO, "ENXIO"},     {EOWNERDEAD, "EOWNERDEAD"},
        {ENOTRECOVERABLE, "ENOTRECOVERABLE"},
    };
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) {
        const char *name = mmk_errname(-sys[i].code);
        if (strcmp(name, sys[i].name) != 0)
            fprintf(stderr, "errno %d: name %s, expected %s\n", sys[i].code, name, sys[i].name);
        CHECK(strcmp(name, sys[i].name) == 0);
        CHECK(strcmp(mmk_strerror(-sys[i].code), "unknown error") != 0);
    }
    CHECK(strcmp(mmk_strerror(-ENOENT), "no such file or directory") == 0);
    CHECK(strcmp(mmk_strerror(-EACCES), "permission denied") == 0);
    CHECK(strcmp(mmk_strerror(-EISDIR), "is a directory") == 0);

    /* Unknown codes. Positive values are not codes (errors are negative). */
    int unknown[] = {1, ENOENT, 12345, -5000, -4999, -5020, -5999, -6000, -100000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(mmk_strerror(unknown[i]), "unknown error") == 0);
        CHECK(strcmp(mmk_errname(unknown[i]), "UNKNOWN") == 0);
    }

    /* Over the whole errno range and the library range, the two functions
       agree on what is known, and every known code has a distinct name. */
    int known = 0;
    for (int c = -6000; c <= 0; c++) {
        int has_name = strcmp(mmk_errname(c), "UNKNOWN") != 0;
        int has_text = strcmp(mmk_strerror(c), "unknown error") != 0;
        CHECK_EQ(has_name, has_text);
        if (has_name && c != 0) {
            known++;
            CHECK(mmk_strerror(c)[0] != '\0');
            for (int d = c + 1; d < 0 && d <= c + 200; d++)
                if (strcmp(mmk_errname(d), "UNKNOWN") != 0)
                    CHECK(strcmp(mmk_errname(c), mmk_errname(d)) != 0);
        }
    }
    CHECK(known >= 15 + 30);
    return CHECK_DONE();
}
