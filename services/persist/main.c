/*  telegraphy-persist: the only process that talks to PostgreSQL.

    Placeholder: the storage layer (persist_db, persist_migrate, persist_store)
    exists and is tested; the actor that joins the router over ZeroMQ and
    drives it is wired here later. Until then the binary only answers --help.
*/
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: telegraphy-persist [options]\n"
               "Stores persistent subscriptions, guaranteed and retained events, the\n"
               "event-type registry and spent token ids in PostgreSQL\n"
               "(TELEGRAPHY_DATABASE_URL, a libpq URI).\n");
        return 0;
    }
    fprintf(stderr, "telegraphy-persist: not wired yet\n");
    return 2;
}
