rm -rf "$sys/bus/pci/devices"; ln -s devices "$sys/bus/pci/devices"
