/*
 * nimbus-fscrypt-key DIR   (the volume's 64-byte key on standard input)
 *
 * Unlocks an encrypted volume's data directory on a mounted ext4 filesystem: adds the key to the
 * filesystem's keyring (FS_IOC_ADD_ENCRYPTION_KEY, so every process that reaches the directory
 * through any mount sees plaintext, whatever its session keyring) and, if DIR is new and empty,
 * gives it a v2 policy naming that key (AES-256-XTS contents, AES-256-CTS names). A DIR encrypted
 * under another key is refused. Debian's fscrypt tool manages protectors and a config in /etc; the
 * two ioctls are all a volume needs, so this does only them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fscrypt.h>

#define KEY_BYTES 64

static void die(const char *what) {
  fprintf(stderr, "nimbus-fscrypt-key: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: nimbus-fscrypt-key DIR < key\n");
    return 2;
  }
  struct fscrypt_add_key_arg *arg = calloc(1, sizeof *arg + KEY_BYTES);
  if (!arg) die("calloc");
  size_t got = 0;
  while (got < KEY_BYTES) {
    ssize_t n = read(0, arg->raw + got, KEY_BYTES - got);
    if (n <= 0) { errno = n == 0 ? EINVAL : errno; die("reading the key"); }
    got += (size_t)n;
  }
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) die(argv[1]);
  arg->key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
  arg->raw_size = KEY_BYTES;
  if (ioctl(dir, FS_IOC_ADD_ENCRYPTION_KEY, arg) < 0) die("FS_IOC_ADD_ENCRYPTION_KEY");

  struct fscrypt_get_policy_ex_arg have = { .policy_size = sizeof have.policy };
  if (ioctl(dir, FS_IOC_GET_ENCRYPTION_POLICY_EX, &have) == 0) {
    if (have.policy.version != FSCRYPT_POLICY_V2 ||
        memcmp(have.policy.v2.master_key_identifier, arg->key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE) != 0) {
      fprintf(stderr, "nimbus-fscrypt-key: %s is encrypted under another key\n", argv[1]);
      return 1;
    }
    return 0;
  }
  if (errno != ENODATA) die("FS_IOC_GET_ENCRYPTION_POLICY_EX");
  struct fscrypt_policy_v2 policy = {
    .version = FSCRYPT_POLICY_V2,
    .contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS,
    .filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS,
    .flags = FSCRYPT_POLICY_FLAGS_PAD_32,
  };
  memcpy(policy.master_key_identifier, arg->key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
  if (ioctl(dir, FS_IOC_SET_ENCRYPTION_POLICY, &policy) < 0) die("FS_IOC_SET_ENCRYPTION_POLICY");
  return 0;
}
