/*
 * edgectl's entry point: everything else is in dp_ctl_main (args.c), which tests can call
 * with their own output streams.
 */
#include <stdio.h>

#include "deploy/edgectl/edgectl.h"

int main(int argc, char **argv)
{
    return dp_ctl_main(argc, argv, stdout, stderr);
}
