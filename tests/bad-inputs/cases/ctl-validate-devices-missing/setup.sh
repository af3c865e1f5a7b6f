rm -rf "$sys/bus/pci/devices"
