#include <sys/stat.h>
#include <unistd.h>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "store/SecretBox.h"

using fmb::ErrorCode;
using fmb::Result;
using fmb::SecretBox;

namespace {

enum class Tamper { NonceByte, CipherByte, TagByte, Truncate, Extend, OtherAad, EmptyAad, OtherKey };

QByteArray testKey(char fill)
{
    return QByteArray(SecretBox::KeySize, fill);
}

template <typename T>
QByteArray describe(const Result<T> &result)
{
    if (result.ok())
        return "ok";
    return QByteArray::number(static_cast<int>(result.error().code)) + ' ' + result.error().subject.toUtf8() +
           ": " + result.error().message.toUtf8();
}

int modeOf(const QString &path)
{
    struct stat st {};
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return -1;
    return static_cast<int>(st.st_mode & 07777);
}

bool writeFile(const QString &path, const QByteArray &content, QFile::Permissions permissions)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(content) != content.size())
        return false;
    file.close();
    return file.setPermissions(permissions);
}

QByteArray readFile(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// Restores the process umask when a test row ends, pass or fail.
class UmaskGuard {
public:
    explicit UmaskGuard(mode_t mask)
        : m_old(::umask(mask))
    {}
    ~UmaskGuard() { ::umask(m_old); }

private:
    mode_t m_old;
};

constexpr auto OwnerRw = QFile::ReadOwner | QFile::WriteOwner;

} // namespace

class tst_SecretBox : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip_data();
    void roundTrip();
    void nonceIsFreshPerSeal();
    void tamperedValueRejected_data();
    void tamperedValueRejected();
    void fromKeyRejectsWrongSize_data();
    void fromKeyRejectsWrongSize();
    void keyFileCreatedPrivate_data();
    void keyFileCreatedPrivate();
    void keyFileReused();
    void keyFileAccepted_data();
    void keyFileAccepted();
    void keyFileRefused_data();
    void keyFileRefused();
    void keyFileRefusedSymlink();
    void sharedKeyFileLoaded();
    void sharedKeyFileNeverCreated();
};

void tst_SecretBox::roundTrip_data()
{
    QTest::addColumn<QByteArray>("plaintext");
    QTest::addColumn<QByteArray>("aad");
    QTest::newRow("empty plaintext") << QByteArray() << QByteArray("grant-1");
    QTest::newRow("token-sized") << QByteArray("gto_abcdefghijklmnopqrstuvwxyz0123456789")
                                 << QByteArray("grant-1");
    QTest::newRow("binary with NUL bytes") << QByteArray("\0\1\2\0\xff", 5) << QByteArray("g\0access", 8);
    QTest::newRow("empty associated data") << QByteArray("secret") << QByteArray();
    QTest::newRow("1 MiB") << QByteArray(1024 * 1024, 'x') << QByteArray("grant-2");
}

void tst_SecretBox::roundTrip()
{
    QFETCH(QByteArray, plaintext);
    QFETCH(QByteArray, aad);
    Result<SecretBox> box = SecretBox::fromKey(testKey('k'));
    QVERIFY2(box.ok(), describe(box).constData());

    Result<QByteArray> sealed = box.value().seal(plaintext, aad);
    QVERIFY2(sealed.ok(), describe(sealed).constData());
    QCOMPARE(sealed.value().size(), SecretBox::NonceSize + plaintext.size() + SecretBox::TagSize);
    if (plaintext.size() >= 6)
        QVERIFY(!sealed.value().contains(plaintext));

    Result<QByteArray> opened = box.value().open(sealed.value(), aad);
    QVERIFY2(opened.ok(), describe(opened).constData());
    QCOMPARE(opened.value(), plaintext);
}

void tst_SecretBox::nonceIsFreshPerSeal()
{
    Result<SecretBox> box = SecretBox::fromKey(testKey('k'));
    QVERIFY(box.ok());
    Result<QByteArray> first = box.value().seal("same value", "aad");
    Result<QByteArray> second = box.value().seal("same value", "aad");
    QVERIFY(first.ok() && second.ok());
    QVERIFY(first.value().left(SecretBox::NonceSize) != second.value().left(SecretBox::NonceSize));
    QVERIFY(first.value() != second.value());
}

void tst_SecretBox::tamperedValueRejected_data()
{
    QTest::addColumn<Tamper>("tamper");
    QTest::newRow("flipped nonce byte") << Tamper::NonceByte;
    QTest::newRow("flipped ciphertext byte") << Tamper::CipherByte;
    QTest::newRow("flipped tag byte") << Tamper::TagByte;
    QTest::newRow("truncated tag") << Tamper::Truncate;
    QTest::newRow("byte appended") << Tamper::Extend;
    QTest::newRow("another grant id as associated data") << Tamper::OtherAad;
    QTest::newRow("associated data dropped") << Tamper::EmptyAad;
    QTest::newRow("sealed with another key") << Tamper::OtherKey;
}

void tst_SecretBox::tamperedValueRejected()
{
    QFETCH(Tamper, tamper);
    const QByteArray plaintext("upstream-access-token-value");
    const QByteArray aad("0123456789abcdef0123456789abcdef");
    Result<SecretBox> box = SecretBox::fromKey(testKey('k'));
    QVERIFY(box.ok());
    Result<QByteArray> sealedResult = box.value().seal(plaintext, aad);
    QVERIFY(sealedResult.ok());
    QByteArray sealed = sealedResult.value();
    QByteArray openAad = aad;
    Result<SecretBox> other = SecretBox::fromKey(testKey('o'));
    QVERIFY(other.ok());
    const SecretBox *opener = &box.value();

    switch (tamper) {
    case Tamper::NonceByte:
        sealed[0] = static_cast<char>(sealed.at(0) ^ 0x01);
        break;
    case Tamper::CipherByte:
        sealed[SecretBox::NonceSize + 3] = static_cast<char>(sealed.at(SecretBox::NonceSize + 3) ^ 0x80);
        break;
    case Tamper::TagByte:
        sealed[sealed.size() - 1] = static_cast<char>(sealed.at(sealed.size() - 1) ^ 0x01);
        break;
    case Tamper::Truncate:
        sealed.chop(1);
        break;
    case Tamper::Extend:
        sealed.append('\0');
        break;
    case Tamper::OtherAad:
        openAad = "fedcba9876543210fedcba9876543210";
        break;
    case Tamper::EmptyAad:
        openAad.clear();
        break;
    case Tamper::OtherKey:
        opener = &other.value();
        break;
    }

    Result<QByteArray> opened = opener->open(sealed, openAad);
    QVERIFY2(!opened.ok(), "a tampered value opened");
    QCOMPARE(opened.error().code, ErrorCode::Unauthorized);
    QVERIFY(!opened.error().message.contains(QString::fromLatin1(plaintext)));
}

void tst_SecretBox::fromKeyRejectsWrongSize_data()
{
    QTest::addColumn<int>("size");
    QTest::newRow("empty") << 0;
    QTest::newRow("AES-128 sized (16)") << 16;
    QTest::newRow("one short (31)") << 31;
    QTest::newRow("one long (33)") << 33;
}

void tst_SecretBox::fromKeyRejectsWrongSize()
{
    QFETCH(int, size);
    Result<SecretBox> box = SecretBox::fromKey(QByteArray(size, 'k'));
    QVERIFY(!box.ok());
    QCOMPARE(box.error().code, ErrorCode::InvalidArgument);
    // Opening a value too short to hold nonce and tag is refused, too.
    Result<SecretBox> good = SecretBox::fromKey(testKey('k'));
    QVERIFY(good.ok());
    QVERIFY(!good.value().open(QByteArray(SecretBox::NonceSize + SecretBox::TagSize - 1, 'x'), "aad").ok());
}

void tst_SecretBox::keyFileCreatedPrivate_data()
{
    QTest::addColumn<int>("umask");
    QTest::newRow("umask 022") << 0022;
    QTest::newRow("umask 000 (would give 0666 to a plain create)") << 0000;
    QTest::newRow("umask 077") << 0077;
    QTest::newRow("umask 277 (would leave it read-only)") << 0277;
}

void tst_SecretBox::keyFileCreatedPrivate()
{
    QFETCH(int, umask);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    Result<SecretBox> box = [&] {
        UmaskGuard guard(static_cast<mode_t>(umask));
        return SecretBox::loadOrCreateKeyFile(path);
    }();
    QVERIFY2(box.ok(), describe(box).constData());
    QCOMPARE(modeOf(path), 0600);
    QCOMPARE(QFileInfo(path).size(), SecretBox::KeySize);
    QVERIFY(readFile(path) != QByteArray(SecretBox::KeySize, '\0'));
}

void tst_SecretBox::keyFileReused()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    QByteArray sealed;
    {
        Result<SecretBox> first = SecretBox::loadOrCreateKeyFile(path);
        QVERIFY2(first.ok(), describe(first).constData());
        Result<QByteArray> s = first.value().seal("kept across restarts", "grant-7");
        QVERIFY(s.ok());
        sealed = s.value();
    }
    const QByteArray keyBytes = readFile(path);
    Result<SecretBox> second = SecretBox::loadOrCreateKeyFile(path);
    QVERIFY2(second.ok(), describe(second).constData());
    QCOMPARE(readFile(path), keyBytes);
    Result<QByteArray> opened = second.value().open(sealed, "grant-7");
    QVERIFY2(opened.ok(), describe(opened).constData());
    QCOMPARE(opened.value(), QByteArray("kept across restarts"));
}

void tst_SecretBox::keyFileAccepted_data()
{
    QTest::addColumn<int>("permissions");
    QTest::newRow("0600") << int(OwnerRw);
    QTest::newRow("0400 (read-only for the owner)") << int(QFile::ReadOwner);
}

void tst_SecretBox::keyFileAccepted()
{
    QFETCH(int, permissions);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    QVERIFY(writeFile(path, testKey('a'), QFile::Permissions(permissions)));
    Result<SecretBox> box = SecretBox::loadOrCreateKeyFile(path);
    QVERIFY2(box.ok(), describe(box).constData());

    // It is the key in the file, not a new one.
    Result<SecretBox> same = SecretBox::fromKey(testKey('a'));
    QVERIFY(same.ok());
    Result<QByteArray> sealed = same.value().seal("x", "y");
    QVERIFY(sealed.ok());
    QVERIFY(box.value().open(sealed.value(), "y").ok());
}

void tst_SecretBox::keyFileRefused_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<int>("permissions");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("messagePart");

    const QByteArray key = testKey('a');
    const int groupRead = int(OwnerRw | QFile::ReadGroup);
    QTest::newRow("mode 0644") << key << int(OwnerRw | QFile::ReadGroup | QFile::ReadOther)
                               << ErrorCode::Forbidden << QStringLiteral("0644");
    QTest::newRow("mode 0640") << key << groupRead << ErrorCode::Forbidden << QStringLiteral("0640");
    QTest::newRow("mode 0604") << key << int(OwnerRw | QFile::ReadOther) << ErrorCode::Forbidden
                               << QStringLiteral("0604");
    QTest::newRow("mode 0620 (group may write)")
        << key << int(OwnerRw | QFile::WriteGroup) << ErrorCode::Forbidden << QStringLiteral("0620");
    QTest::newRow("16 bytes") << QByteArray(16, 'a') << int(OwnerRw) << ErrorCode::InvalidArgument
                              << QStringLiteral("16 bytes");
    QTest::newRow("33 bytes") << QByteArray(33, 'a') << int(OwnerRw) << ErrorCode::InvalidArgument
                              << QStringLiteral("33 bytes");
    QTest::newRow("empty file") << QByteArray() << int(OwnerRw) << ErrorCode::InvalidArgument
                                << QStringLiteral("0 bytes");
}

void tst_SecretBox::keyFileRefused()
{
    QFETCH(QByteArray, content);
    QFETCH(int, permissions);
    QFETCH(ErrorCode, code);
    QFETCH(QString, messagePart);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    QVERIFY(writeFile(path, content, QFile::Permissions(permissions)));
    const int modeBefore = modeOf(path);

    // Both ways of loading refuse it: a state_dir key and --secret-key-file.
    using Load = Result<SecretBox> (*)(const QString &);
    for (const Load load : {&SecretBox::loadOrCreateKeyFile, &SecretBox::loadKeyFile}) {
        const Result<SecretBox> box = load(path);
        QVERIFY(!box.ok());
        QCOMPARE(box.error().code, code);
        QCOMPARE(box.error().subject, path);
        QVERIFY2(box.error().message.contains(messagePart), qPrintable(box.error().message));
    }
    // Refused, not repaired or replaced: the operator decides.
    QCOMPARE(readFile(path), content);
    QCOMPARE(modeOf(path), modeBefore);
}

// --secret-key-file (issue 14): the key of the file, as every broker of a cluster loads it.
void tst_SecretBox::sharedKeyFileLoaded()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    QVERIFY(writeFile(path, testKey('b'), OwnerRw));
    Result<SecretBox> first = SecretBox::loadKeyFile(path);
    Result<SecretBox> second = SecretBox::loadKeyFile(path);
    QVERIFY2(first.ok(), describe(first).constData());
    QVERIFY2(second.ok(), describe(second).constData());
    Result<QByteArray> sealed = first.value().seal("grant token", "grant-1");
    QVERIFY(sealed.ok());
    QCOMPARE(second.value().open(sealed.value(), "grant-1").value(), QByteArray("grant token"));
}

// A broker that made its own key would seal tokens no other broker opens.
void tst_SecretBox::sharedKeyFileNeverCreated()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    Result<SecretBox> box = SecretBox::loadKeyFile(path);
    QVERIFY(!box.ok());
    QCOMPARE(box.error().code, ErrorCode::NotFound);
    QCOMPARE(box.error().subject, path);
    QVERIFY2(box.error().message.contains(QStringLiteral("does not exist")), qPrintable(box.error().message));
    QVERIFY(!QFileInfo::exists(path));
}

void tst_SecretBox::keyFileRefusedSymlink()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("real.key"));
    const QString path = dir.filePath(QStringLiteral("upstream.key"));
    QVERIFY(writeFile(target, testKey('a'), OwnerRw));
    QVERIFY(QFile::link(target, path));
    Result<SecretBox> box = SecretBox::loadOrCreateKeyFile(path);
    QVERIFY(!box.ok());
    QCOMPARE(box.error().code, ErrorCode::Io);
    QVERIFY2(box.error().message.contains(QLatin1String("symlink")), qPrintable(box.error().message));
}

QTEST_GUILESS_MAIN(tst_SecretBox)
#include "tst_secretbox.moc"
