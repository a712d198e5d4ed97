23714:bash 1
