#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include "base/Result.h"

namespace fmb {

// AES-256-GCM with one 32-byte key. seal() draws a fresh random 96-bit nonce
// per value and returns nonce | ciphertext | 16-byte tag; open() refuses a
// value whose ciphertext, tag or associated data was changed. The associated
// data binds a value to its place (the store passes the grant id), so a
// ciphertext copied into another row does not open: open() then returns
// Unauthorized. Never logs the key.
// Move-only; the key bytes are wiped when the box is destroyed.
class SecretBox final {
public:
    static constexpr qsizetype KeySize = 32;
    static constexpr qsizetype NonceSize = 12;
    static constexpr qsizetype TagSize = 16;

    [[nodiscard]] static Result<SecretBox> fromKey(const QByteArray &key);

    // Loads the key from `path`, or creates it (32 random bytes, mode 0600,
    // O_CREAT|O_EXCL) when it does not exist. Refuses a key file that is a
    // symlink, not ours, readable or writable by group or others, or not
    // exactly 32 bytes long.
    [[nodiscard]] static Result<SecretBox> loadOrCreateKeyFile(const QString &path);
    // The same checks on a key file that must exist already (--secret-key-file,
    // shared by the brokers of a cluster: one that made its own key would
    // seal tokens the others cannot open). NotFound when it is missing.
    [[nodiscard]] static Result<SecretBox> loadKeyFile(const QString &path);

    SecretBox(SecretBox &&other) noexcept;
    SecretBox &operator=(SecretBox &&other) noexcept;
    SecretBox(const SecretBox &) = delete;
    SecretBox &operator=(const SecretBox &) = delete;
    ~SecretBox();

    [[nodiscard]] Result<QByteArray> seal(QByteArrayView plaintext, QByteArrayView associatedData) const;
    [[nodiscard]] Result<QByteArray> open(QByteArrayView sealed, QByteArrayView associatedData) const;

private:
    explicit SecretBox(QByteArray key);
    void wipe();

    QByteArray m_key;
};

} // namespace fmb
