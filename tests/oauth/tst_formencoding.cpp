#include <QTest>

#include "oauth/FormEncoding.h"

namespace Form = fmb::Form;
namespace Cookies = fmb::Cookies;

class tst_FormEncoding : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void repeatedParameter();
    void encodeRoundTrips();
    void appendQuery_data();
    void appendQuery();
    void findCookie_data();
    void findCookie();
    void hostCookie();
};

void tst_FormEncoding::parse_data()
{
    QTest::addColumn<QByteArray>("encoded");
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("value"); // null: absent

    QTest::newRow("plain") << QByteArray("a=1&b=2") << QStringLiteral("b") << QStringLiteral("2");
    QTest::newRow("plus is a space") << QByteArray("scope=mcp+repo") << QStringLiteral("scope")
                                     << QStringLiteral("mcp repo");
    QTest::newRow("%2B is a plus") << QByteArray("state=a%2Bb") << QStringLiteral("state")
                                   << QStringLiteral("a+b");
    QTest::newRow("UTF-8") << QByteArray("n=%C3%A4") << QStringLiteral("n") << QStringLiteral("ä");
    QTest::newRow("no value") << QByteArray("flag&x=1") << QStringLiteral("flag") << QStringLiteral("");
    QTest::newRow("empty value") << QByteArray("x=") << QStringLiteral("x") << QStringLiteral("");
    QTest::newRow("equals in the value")
        << QByteArray("x=a=b") << QStringLiteral("x") << QStringLiteral("a=b");
    QTest::newRow("absent") << QByteArray("a=1") << QStringLiteral("b") << QString();
    QTest::newRow("first of two") << QByteArray("a=1&a=2") << QStringLiteral("a") << QStringLiteral("1");
    QTest::newRow("empty pieces") << QByteArray("&&a=1&") << QStringLiteral("a") << QStringLiteral("1");
}

void tst_FormEncoding::parse()
{
    QFETCH(QByteArray, encoded);
    QFETCH(QString, name);
    QFETCH(QString, value);
    const QString found = Form::value(Form::parse(encoded), name);
    QCOMPARE(found.isNull(), value.isNull());
    QCOMPARE(found, value);
}

void tst_FormEncoding::repeatedParameter()
{
    const Form::Fields fields = Form::parse("resource=a&resource=b&code=1&code=2");
    QCOMPARE(Form::repeatedParameter(fields, {QStringLiteral("resource")}), QStringLiteral("code"));
    QCOMPARE(Form::repeatedParameter(Form::parse("resource=a&resource=b"), {QStringLiteral("resource")}),
             QString());
    QCOMPARE(Form::values(fields, u"resource"), (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
}

void tst_FormEncoding::encodeRoundTrips()
{
    const Form::Fields fields{{QStringLiteral("state"), QStringLiteral("a b+c&d=e/ä?")},
                              {QStringLiteral("iss"), QStringLiteral("https://mcp.example.org")}};
    const QByteArray encoded = Form::encode(fields);
    QVERIFY(!encoded.contains(' '));
    QVERIFY(!encoded.contains('+'));
    QCOMPARE(Form::parse(encoded), fields);
}

void tst_FormEncoding::appendQuery_data()
{
    QTest::addColumn<QString>("uri");
    QTest::addColumn<QString>("expected");

    QTest::newRow("no query") << QStringLiteral("https://a.example/cb")
                              << QStringLiteral("https://a.example/cb?code=x%20y");
    QTest::newRow("with a query") << QStringLiteral("https://a.example/cb?v=1")
                                  << QStringLiteral("https://a.example/cb?v=1&code=x%20y");
    QTest::newRow("ends with ?") << QStringLiteral("https://a.example/cb?")
                                 << QStringLiteral("https://a.example/cb?code=x%20y");
}

void tst_FormEncoding::appendQuery()
{
    QFETCH(QString, uri);
    QFETCH(QString, expected);
    QCOMPARE(Form::appendQuery(uri, {{QStringLiteral("code"), QStringLiteral("x y")}}), expected);
}

void tst_FormEncoding::findCookie_data()
{
    QTest::addColumn<QList<QByteArray>>("headers");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("value"); // null: absent

    QTest::newRow("one of several") << QList<QByteArray>{"a=1; __Host-x=abc; b=2"} << QByteArray("__Host-x")
                                    << QByteArray("abc");
    QTest::newRow("in a second header")
        << QList<QByteArray>{"a=1", "__Host-x=abc"} << QByteArray("__Host-x") << QByteArray("abc");
    QTest::newRow("quoted") << QList<QByteArray>{"x=\"v\""} << QByteArray("x") << QByteArray("v");
    QTest::newRow("prefix of another name")
        << QList<QByteArray>{"__Host-xy=1"} << QByteArray("__Host-x") << QByteArray();
    QTest::newRow("absent") << QList<QByteArray>{} << QByteArray("x") << QByteArray();
    QTest::newRow("empty value") << QList<QByteArray>{"x="} << QByteArray("x") << QByteArray("");
}

void tst_FormEncoding::findCookie()
{
    QFETCH(QList<QByteArray>, headers);
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, value);
    const QByteArray found = Cookies::find(headers, name);
    QCOMPARE(found.isNull(), value.isNull());
    QCOMPARE(found, value);
}

void tst_FormEncoding::hostCookie()
{
    QCOMPARE(Cookies::hostCookie("__Host-a", "v", -1),
             QByteArray("__Host-a=v; Path=/; Secure; HttpOnly; SameSite=Lax"));
    QCOMPARE(Cookies::hostCookie("__Host-a", "", 0),
             QByteArray("__Host-a=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"));
}

QTEST_GUILESS_MAIN(tst_FormEncoding)
#include "tst_formencoding.moc"
