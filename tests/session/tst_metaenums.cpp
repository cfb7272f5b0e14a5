#include <QMetaEnum>
#include <QScopedArrayPointer>
#include <QTest>

#include "base/Result.h"
#include "jsonrpc/JsonRpc.h"
#include "session/Session.h"

// Every Q_ENUM_NS of the tree, linked together as the daemon links them.
// Two modules once declared Q_NAMESPACE for the same namespace (fmb), so two
// static libraries defined fmb::staticMetaObject; the linker kept one and the
// other module's enums had no meta object (issue 12). A new Q_ENUM_NS gets a
// row here.
class tst_MetaEnums : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void metaEnum_data();
    void metaEnum();
};

namespace {

template <typename E>
void addRow(const char *row, E value, const char *name, const char *key)
{
    const QMetaEnum meta = QMetaEnum::fromType<E>();
    const QScopedArrayPointer<char> printed(QTest::toString(value));
    QTest::newRow(row) << meta.isValid() << QByteArray(meta.name()) << QByteArray(meta.valueToKey(int(value)))
                       << meta.keyToValue(key) << int(value) << QByteArray(printed.data()) << QByteArray(name)
                       << QByteArray(key);
}

} // namespace

void tst_MetaEnums::metaEnum_data()
{
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("keyOfValue");
    QTest::addColumn<int>("valueOfKey");
    QTest::addColumn<int>("value");
    QTest::addColumn<QByteArray>("printed"); // what QCOMPARE shows when a comparison fails
    QTest::addColumn<QByteArray>("wantName");
    QTest::addColumn<QByteArray>("wantKey");

    addRow("base ErrorCode", fmb::ErrorCode::Unauthorized, "ErrorCode", "Unauthorized");
    addRow("jsonrpc MessageKind", fmb::MessageKind::Response, "MessageKind", "Response");
    addRow("session SessionState", fmb::SessionState::Respawning, "SessionState", "Respawning");
    addRow("session Refusal", fmb::Refusal::StreamHasReader, "Refusal", "StreamHasReader");
}

void tst_MetaEnums::metaEnum()
{
    QFETCH(bool, valid);
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, keyOfValue);
    QFETCH(int, valueOfKey);
    QFETCH(int, value);
    QFETCH(QByteArray, printed);
    QFETCH(QByteArray, wantName);
    QFETCH(QByteArray, wantKey);

    QVERIFY(valid);
    QCOMPARE(name, wantName);
    QCOMPARE(keyOfValue, wantKey);
    QCOMPARE(valueOfKey, value);
    QCOMPARE(printed, wantKey);
}

QTEST_GUILESS_MAIN(tst_MetaEnums)
#include "tst_metaenums.moc"
