#include "UserTableModel.h"

#include <algorithm>
#include <limits>

#include <QMap>

#include "SessionTableModel.h"

namespace fmb {

UserTableModel::UserTableModel(SessionTableModel *sessions, QObject *parent)
    : QAbstractTableModel(parent)
    , m_sessions(sessions)
{
    // The session table changes row by row and its time columns every second:
    // each change is cheap to recount (a console lists thousands at most).
    connect(sessions, &QAbstractItemModel::rowsInserted, this, &UserTableModel::rebuild);
    connect(sessions, &QAbstractItemModel::rowsRemoved, this, &UserTableModel::rebuild);
    connect(sessions, &QAbstractItemModel::dataChanged, this, &UserTableModel::rebuild);
    connect(sessions, &QAbstractItemModel::modelReset, this, &UserTableModel::rebuild);
    rebuild();
}

int UserTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_users.size());
}

int UserTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

int UserTableModel::rowOf(const QString &user) const
{
    const auto it = std::find_if(m_users.cbegin(), m_users.cend(),
                                 [&user](const User &candidate) { return candidate.name == user; });
    return it == m_users.cend() ? -1 : int(it - m_users.cbegin());
}

void UserTableModel::rebuild()
{
    QMap<QString, User> byName;
    const QList<SessionInfo> sessions = m_sessions->sessions();
    for (const SessionInfo &session : sessions) {
        User &user = byName[session.user];
        user.name = session.user;
        if (session.isUserChild())
            ++user.userChildren;
        else
            ++user.sessions;
        user.inFlight += session.pendingRequests;
        if (session.tokenExpiresMs > 0 &&
            (user.tokenExpiresMs == 0 || session.tokenExpiresMs < user.tokenExpiresMs))
            user.tokenExpiresMs = session.tokenExpiresMs;
        if (!session.client.isEmpty() && !user.clients.contains(session.client))
            user.clients.append(session.client);
    }
    QList<User> users;
    for (User &user : byName) {
        user.clients.sort();
        users.append(user);
    }
    if (users.size() == m_users.size() &&
        std::equal(users.cbegin(), users.cend(), m_users.cbegin(),
                   [](const User &a, const User &b) { return a.name == b.name; })) {
        // The same users: update in place, so the view keeps its selection.
        m_users = users;
        if (!m_users.isEmpty())
            Q_EMIT dataChanged(index(0, 0), index(int(m_users.size()) - 1, ColumnCount - 1));
        return;
    }
    beginResetModel();
    m_users = users;
    endResetModel();
}

QVariant UserTableModel::display(const User &user, int column) const
{
    switch (Column(column)) {
    case UserColumn:
        return user.name;
    case SessionsColumn:
        return user.sessions;
    case ChildrenColumn:
        return user.userChildren;
    case InFlightColumn:
        return user.inFlight;
    case TokenColumn:
        return m_sessions->tokenText(user.tokenExpiresMs);
    case ClientsColumn:
        return user.clients.isEmpty() ? QStringLiteral("–") : user.clients.join(QStringLiteral(", "));
    case ColumnCount:
        break;
    }
    return {};
}

QVariant UserTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_users.size())
        return {};
    const User &user = m_users.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return display(user, index.column());
    case Qt::ToolTipRole:
        return index.column() == TokenColumn ? QVariant(m_sessions->tokenToolTip(user.tokenExpiresMs))
                                             : QVariant();
    case Qt::TextAlignmentRole:
        return index.column() == UserColumn || index.column() == ClientsColumn
                   ? QVariant()
                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    case SortRole:
        return index.column() == TokenColumn
                   ? QVariant(user.tokenExpiresMs > 0 ? user.tokenExpiresMs
                                                      : std::numeric_limits<qint64>::max())
                   : display(user, index.column());
    case UserNameRole:
        return user.name;
    default:
        return {};
    }
}

QVariant UserTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case UserColumn:
        return tr("User");
    case SessionsColumn:
        return tr("Sessions");
    case ChildrenColumn:
        return tr("User children");
    case InFlightColumn:
        return tr("In flight");
    case TokenColumn:
        return tr("Token expires");
    case ClientsColumn:
        return tr("Clients");
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace fmb
