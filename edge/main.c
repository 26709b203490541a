/* The edged binary: everything lives in edge/, main only hands it the arguments. */
#include "edge/edge.h"

int main(int argc, char **argv)
{
    return edge_main(argc, argv);
}
