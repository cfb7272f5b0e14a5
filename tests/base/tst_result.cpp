#include <QTest>

#include "base/Result.h"

using fmb::Error;
using fmb::ErrorCode;
using fmb::Result;

namespace {

// A failure kind of its own, as a typed Result carries it (issue 12).
struct ParseFailure {
    int position = 0;
    QString what;
};

Result<int, ParseFailure> parseDigit(QChar c)
{
    if (c.isDigit())
        return c.digitValue();
    return ParseFailure{7, QStringLiteral("not a digit")};
}

Result<void, ParseFailure> requireDigit(QChar c)
{
    if (c.isDigit())
        return {};
    return ParseFailure{3, QStringLiteral("want a digit")};
}

} // namespace

class tst_Result : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void defaultFailureIsError();
    void typedFailureKeepsItsFields();
    void voidWithTypedFailure();
};

void tst_Result::defaultFailureIsError()
{
    const Result<QString> failed = Error{ErrorCode::NotFound, QStringLiteral("s1"), QStringLiteral("gone")};
    QVERIFY(!failed);
    QCOMPARE(failed.error().subject, QStringLiteral("s1"));
    const Result<QString> held = QStringLiteral("value");
    QVERIFY(held.ok());
    QCOMPARE(held.value(), QStringLiteral("value"));
}

void tst_Result::typedFailureKeepsItsFields()
{
    const Result<int, ParseFailure> digit = parseDigit(QLatin1Char('4'));
    QVERIFY(digit.ok());
    QCOMPARE(digit.value(), 4);
    const Result<int, ParseFailure> letter = parseDigit(QLatin1Char('x'));
    QVERIFY(!letter);
    QCOMPARE(letter.error().position, 7);
    QCOMPARE(letter.error().what, QStringLiteral("not a digit"));
}

void tst_Result::voidWithTypedFailure()
{
    QVERIFY(requireDigit(QLatin1Char('1')).ok());
    const Result<void, ParseFailure> failed = requireDigit(QLatin1Char('y'));
    QVERIFY(!failed);
    QCOMPARE(failed.error().position, 3);
}

QTEST_GUILESS_MAIN(tst_Result)
#include "tst_result.moc"
