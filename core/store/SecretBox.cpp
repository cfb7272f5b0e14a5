#include "SecretBox.h"

#include <cerrno>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QFile>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "Logging.h"

namespace fmb {
namespace {

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherContext newContext()
{
    return CipherContext(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
}

const unsigned char *bytes(QByteArrayView view)
{
    return reinterpret_cast<const unsigned char *>(view.data());
}

unsigned char *bytes(QByteArray &array)
{
    return reinterpret_cast<unsigned char *>(array.data());
}

Error cryptoError(const QString &what)
{
    return Error{ErrorCode::Internal, QStringLiteral("aes-256-gcm"), what};
}

Error keyFileError(ErrorCode code, const QString &path, const QString &what)
{
    return Error{code, path, QStringLiteral("key file: ") + what};
}

Error keyFileIoError(const QString &path, const QString &what, int err)
{
    return keyFileError(ErrorCode::Io, path, what + QStringLiteral(": ") + qt_error_string(err));
}

// Reads exactly KeySize bytes from an open key file after checking what it is.
Result<QByteArray> readKeyFile(int fd, const QString &path)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return keyFileIoError(path, QStringLiteral("cannot stat"), errno);
    if (!S_ISREG(st.st_mode))
        return keyFileError(ErrorCode::Io, path, QStringLiteral("not a regular file"));
    if (st.st_uid != ::geteuid()) {
        return keyFileError(
            ErrorCode::Forbidden, path,
            QStringLiteral("belongs to uid %1, not to the broker's uid %2").arg(st.st_uid).arg(::geteuid()));
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        return keyFileError(ErrorCode::Forbidden, path,
                            QStringLiteral("mode is 0%1 but must not give group or others any access "
                                           "(chmod 600 it, and consider the key exposed)")
                                .arg(st.st_mode & 07777, 3, 8, QLatin1Char('0')));
    }
    if (st.st_size != SecretBox::KeySize) {
        return keyFileError(ErrorCode::InvalidArgument, path,
                            QStringLiteral("is %1 bytes long; a key is exactly %2 bytes")
                                .arg(st.st_size)
                                .arg(SecretBox::KeySize));
    }
    QByteArray key(SecretBox::KeySize, '\0');
    qsizetype done = 0;
    while (done < key.size()) {
        const ssize_t n = ::read(fd, key.data() + done, static_cast<size_t>(key.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            OPENSSL_cleanse(key.data(), static_cast<size_t>(key.size()));
            return keyFileIoError(path, QStringLiteral("cannot read"), err);
        }
        done += n;
    }
    return key;
}

Result<void> writeAll(int fd, const QByteArray &data, const QString &path)
{
    qsizetype done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.constData() + done, static_cast<size_t>(data.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return keyFileIoError(path, QStringLiteral("cannot write"), n < 0 ? errno : EIO);
        done += n;
    }
    if (::fsync(fd) != 0)
        return keyFileIoError(path, QStringLiteral("cannot fsync"), errno);
    return {};
}

// Creates the key file, or returns an empty array when another process won
// the O_EXCL race (the caller then loads that file).
Result<QByteArray> createKeyFile(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    const int fd =
        ::open(native.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        if (errno == EEXIST)
            return QByteArray();
        return keyFileIoError(path, QStringLiteral("cannot create"), errno);
    }
    QByteArray key(SecretBox::KeySize, '\0');
    Result<void> written;
    if (RAND_bytes(bytes(key), static_cast<int>(key.size())) != 1)
        written = keyFileError(ErrorCode::Internal, path, QStringLiteral("the random generator failed"));
    else if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) // the umask may have narrowed it further
        written = keyFileIoError(path, QStringLiteral("cannot set mode 0600"), errno);
    else
        written = writeAll(fd, key, path);
    ::close(fd);
    if (!written.ok()) {
        OPENSSL_cleanse(key.data(), static_cast<size_t>(key.size()));
        ::unlink(native.constData()); // never leave a short key behind for the next start to refuse
        return written.error();
    }
    qCInfo(lcStore, "created key file %s", native.constData());
    return key;
}

} // namespace

SecretBox::SecretBox(QByteArray key)
    : m_key(std::move(key))
{}

SecretBox::SecretBox(SecretBox &&other) noexcept
    : m_key(std::exchange(other.m_key, QByteArray()))
{}

SecretBox &SecretBox::operator=(SecretBox &&other) noexcept
{
    if (this != &other) {
        wipe();
        m_key = std::exchange(other.m_key, QByteArray());
    }
    return *this;
}

SecretBox::~SecretBox()
{
    wipe();
}

void SecretBox::wipe()
{
    if (!m_key.isEmpty())
        OPENSSL_cleanse(m_key.data(), static_cast<size_t>(m_key.size()));
    m_key.clear();
}

Result<SecretBox> SecretBox::fromKey(const QByteArray &key)
{
    if (key.size() != KeySize) {
        return Error{ErrorCode::InvalidArgument, QStringLiteral("key"),
                     QStringLiteral("an AES-256-GCM key is %1 bytes, not %2").arg(KeySize).arg(key.size())};
    }
    // A deep copy, so wiping ours never touches the caller's bytes.
    return SecretBox(QByteArray(key.constData(), key.size()));
}

Result<SecretBox> SecretBox::loadOrCreateKeyFile(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    if (::access(native.constData(), F_OK) != 0 && errno == ENOENT) {
        Result<QByteArray> created = createKeyFile(path);
        if (!created.ok())
            return created.error();
        if (!created.value().isEmpty())
            return SecretBox(std::move(created).value());
    }
    return loadKeyFile(path);
}

Result<SecretBox> SecretBox::loadKeyFile(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    const int fd = ::open(native.constData(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return keyFileError(ErrorCode::NotFound, path,
                            QStringLiteral("does not exist (make one: umask 077; head -c 32 /dev/urandom > "
                                           "FILE, and copy it to every broker of the cluster)"));
    }
    if (fd < 0) {
        return keyFileIoError(path,
                              errno == ELOOP ? QStringLiteral("cannot open (it is a symlink)")
                                             : QStringLiteral("cannot open"),
                              errno);
    }
    Result<QByteArray> key = readKeyFile(fd, path);
    ::close(fd);
    if (!key.ok())
        return key.error();
    return SecretBox(std::move(key).value());
}

Result<QByteArray> SecretBox::seal(QByteArrayView plaintext, QByteArrayView associatedData) const
{
    if (m_key.size() != KeySize)
        return cryptoError(QStringLiteral("the box has no key (moved from)"));
    if (plaintext.size() > (1 << 30))
        return cryptoError(
            QStringLiteral("plaintext of %1 bytes is over the 1 GiB limit").arg(plaintext.size()));

    QByteArray out(NonceSize + plaintext.size() + TagSize, Qt::Uninitialized);
    unsigned char *nonce = bytes(out);
    unsigned char *cipher = nonce + NonceSize;
    if (RAND_bytes(nonce, NonceSize) != 1)
        return cryptoError(QStringLiteral("the random generator failed"));

    CipherContext ctx = newContext();
    int len = 0;
    int total = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, NonceSize, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(m_key), nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(associatedData),
                          static_cast<int>(associatedData.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), cipher, &len, bytes(plaintext), static_cast<int>(plaintext.size())) !=
            1) {
        return cryptoError(QStringLiteral("encryption failed"));
    }
    total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) != 1)
        return cryptoError(QStringLiteral("encryption failed"));
    total += len;
    if (total != plaintext.size() ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, TagSize, cipher + total) != 1) {
        return cryptoError(QStringLiteral("encryption failed"));
    }
    return out;
}

Result<QByteArray> SecretBox::open(QByteArrayView sealed, QByteArrayView associatedData) const
{
    if (m_key.size() != KeySize)
        return cryptoError(QStringLiteral("the box has no key (moved from)"));
    if (sealed.size() < NonceSize + TagSize) {
        return cryptoError(
            QStringLiteral("sealed value is %1 bytes, shorter than nonce and tag").arg(sealed.size()));
    }
    const qsizetype cipherSize = sealed.size() - NonceSize - TagSize;
    const unsigned char *nonce = bytes(sealed);
    const unsigned char *cipher = nonce + NonceSize;
    // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; give it a copy.
    QByteArray tag(sealed.sliced(NonceSize + cipherSize).toByteArray());

    QByteArray plain(cipherSize, Qt::Uninitialized);
    CipherContext ctx = newContext();
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, NonceSize, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(m_key), nonce) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(associatedData),
                          static_cast<int>(associatedData.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, cipher, static_cast<int>(cipherSize)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, TagSize, tag.data()) != 1) {
        OPENSSL_cleanse(plain.data(), static_cast<size_t>(plain.size()));
        return cryptoError(QStringLiteral("decryption failed"));
    }
    const int total = len;
    if (EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + total, &len) != 1) {
        OPENSSL_cleanse(plain.data(), static_cast<size_t>(plain.size()));
        return Error{ErrorCode::Unauthorized, QStringLiteral("aes-256-gcm"),
                     QStringLiteral("the sealed value failed authentication (tampered, moved to another "
                                    "record, or sealed with another key)")};
    }
    return plain;
}

} // namespace fmb
