#include "HttpHeaders.h"

#include <algorithm>

namespace fmb::Http {

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}

namespace {

void appendHead(QByteArray &out, int status, const HeaderList &headers)
{
    out.append("HTTP/1.1 ")
        .append(QByteArray::number(status))
        .append(' ')
        .append(reasonPhrase(status))
        .append("\r\n");
    for (const auto &[name, value] : headers)
        out.append(name).append(": ").append(value).append("\r\n");
}

} // namespace

QByteArray response(int status, const HeaderList &headers, QByteArrayView body)
{
    QByteArray out;
    out.reserve(160 + body.size());
    appendHead(out, status, headers);
    out.append("Content-Length: ").append(QByteArray::number(body.size())).append("\r\n\r\n");
    out.append(body);
    return out;
}

QByteArray chunkedHead(int status, const HeaderList &headers)
{
    QByteArray out;
    out.reserve(256);
    appendHead(out, status, headers);
    out.append("Transfer-Encoding: chunked\r\n\r\n");
    return out;
}

QByteArray mediaType(QByteArrayView contentType)
{
    const qsizetype semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.first(semicolon)).trimmed().toByteArray().toLower();
}

bool accepts(QByteArrayView accept, QByteArrayView type)
{
    if (accept.trimmed().isEmpty())
        return true;
    const QByteArray wanted = type.toByteArray().toLower();
    const QByteArray family = wanted.left(wanted.indexOf('/')) + "/*";
    // RFC 9110 §12.5.1: the most specific range that matches decides.
    int bestSpecificity = -1;
    double bestQuality = 0.0;
    const QList<QByteArray> ranges = accept.toByteArray().split(',');
    for (const QByteArray &range : ranges) {
        const QList<QByteArray> parts = range.split(';');
        const QByteArray media = parts.first().trimmed().toLower();
        const int specificity = media == wanted ? 2 : media == family ? 1 : media == "*/*" ? 0 : -1;
        if (specificity < 0 || specificity < bestSpecificity)
            continue;
        double quality = 1.0;
        for (qsizetype i = 1; i < parts.size(); ++i) {
            const QByteArray parameter = parts.at(i).trimmed().toLower();
            if (parameter.startsWith("q="))
                quality = parameter.mid(2).toDouble();
        }
        bestQuality = specificity > bestSpecificity ? quality : std::max(bestQuality, quality);
        bestSpecificity = specificity;
    }
    return bestSpecificity >= 0 && bestQuality > 0.0;
}

bool hasToken(QByteArrayView header, QByteArrayView token)
{
    const QList<QByteArray> items = header.toByteArray().split(',');
    for (const QByteArray &item : items) {
        if (item.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

qsizetype headEnd(QByteArrayView bytes)
{
    const qsizetype crlf = bytes.indexOf("\r\n\r\n");
    const qsizetype lf = bytes.indexOf("\n\n");
    const qsizetype crlfEnd = crlf < 0 ? -1 : crlf + 4;
    const qsizetype lfEnd = lf < 0 ? -1 : lf + 2;
    if (crlfEnd < 0 || lfEnd < 0)
        return std::max(crlfEnd, lfEnd);
    return std::min(crlfEnd, lfEnd);
}

qint64 contentLength(QByteArrayView head)
{
    const QList<QByteArray> lines = head.toByteArray().split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) { // line 0 is the request line
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || line.left(colon).trimmed().compare("content-length", Qt::CaseInsensitive) != 0)
            continue;
        bool ok = false;
        const qint64 length = line.mid(colon + 1).trimmed().toLongLong(&ok);
        return ok && length >= 0 ? length : -1;
    }
    return -1;
}

} // namespace fmb::Http
