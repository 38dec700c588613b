// ConnectionList: the intrusive list behind idle timeouts and close deadlines.
#include "engine/connection.hpp"

namespace ringd::engine {

void ConnectionList::push_back(Connection* c)
{
    c->list_prev = tail_;
    c->list_next = nullptr;
    if (tail_ != nullptr) {
        tail_->list_next = c;
    } else {
        head_ = c;
    }
    tail_ = c;
}

void ConnectionList::remove(Connection* c)
{
    if (c->list_prev != nullptr) {
        c->list_prev->list_next = c->list_next;
    } else {
        head_ = c->list_next;
    }
    if (c->list_next != nullptr) {
        c->list_next->list_prev = c->list_prev;
    } else {
        tail_ = c->list_prev;
    }
    c->list_prev = c->list_next = nullptr;
}

void ConnectionList::move_to_back(Connection* c)
{
    if (tail_ == c) return;
    remove(c);
    push_back(c);
}

} // namespace ringd::engine
